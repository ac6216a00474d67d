"""Secrets out of text (pure): every configured secret, in every form it travels in, becomes ``***``.

A server, an upstream proxy or a WAF error page may echo the request back: its headers
(``Authorization: Bearer <token>``, ``Basic base64(user:secret)``), its form body (percent-encoded),
an SMTP AUTH exchange (base64 of the password, or of ``\\0user\\0password``), a JSON or HTML page
quoting any of these. So a secret is redacted as itself and as each of those forms; the forms that
pair it with a name use every identity given (account SIDs, user names), since which one goes with
which secret differs by gateway. Matching ignores case: a wrong case redacted too costs nothing.

Gateways cut long error bodies before they become a reason; a cut through a secret leaves its
beginning, so the beginning of a form at the end of the text (or before the cut mark ``…``) is
redacted as well, down to ``MIN_CUT_PREFIX`` characters.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "***"
CUT_MARK = "…"
_CUT_MARKS = re.compile(CUT_MARK)
# A cut that leaves fewer characters of a secret than this says next to nothing about it, and the
# end of any text would otherwise be redacted whenever it happens to start a secret.
MIN_CUT_PREFIX = 3


def _base64_forms(raw: str) -> set[str]:
    data = raw.encode()
    encoded = {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}
    # Padded (replaced whole) and unpadded (found when the padding was cut or left off).
    return encoded | {form.rstrip("=") for form in encoded}


def secret_forms(secret: str, identities: Iterable[str] = ()) -> set[str]:
    """The ways ``secret`` may appear in an echoed request (empty for an empty secret)."""
    if not secret:
        return set()
    forms = {
        secret,
        " ".join(secret.split()),  # whitespace folded, as error excerpts fold it
        quote(secret, safe=""),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret),
    }
    forms |= _base64_forms(secret)
    for identity in identities:
        if identity:
            forms |= _base64_forms(f"{identity}:{secret}")  # HTTP Basic
            forms |= _base64_forms(f"\0{identity}\0{secret}")  # SMTP AUTH PLAIN
    return {form for form in forms if form}


def redactor_for(secrets: Iterable[str], identities: Iterable[str] = ()) -> Redactor:
    """A redactor of every form of each secret (see ``secret_forms``)."""
    names = [identity for identity in identities if identity]
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret, names)
    return Redactor(forms)


class Redactor:
    """Replaces the given forms in text; an empty one returns text unchanged."""

    def __init__(self, forms: Iterable[str] = ()) -> None:
        # Longest first: a form that contains another is replaced whole.
        self.forms: tuple[str, ...] = tuple(sorted({form for form in forms if form}, key=lambda f: (-len(f), f)))
        self._lowered = tuple(form.lower() for form in self.forms)
        self._pattern = re.compile("|".join(map(re.escape, self.forms)), re.IGNORECASE) if self.forms else None
        # Cheap first looks (a log line is redacted too, and almost none holds a secret): whether a
        # form is in the text at all, and whether any form's beginning is near an end.
        self._longest = max(map(len, self._lowered), default=0)
        beginnings = {form[:MIN_CUT_PREFIX] for form in self._lowered if len(form) > MIN_CUT_PREFIX}
        self._beginnings = re.compile("|".join(map(re.escape, sorted(beginnings)))) if beginnings else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __or__(self, other: Redactor) -> Redactor:
        return Redactor((*self.forms, *other.forms))

    def redact(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        lowered = text.lower()
        if any(form in lowered for form in self._lowered):
            text = self._pattern.sub(REDACTED, text)
        if self._beginnings is None:
            return text
        ends = [match.start() for match in _CUT_MARKS.finditer(text)]
        # From the right, so the positions still to look at do not move.
        for end in [len(text), *reversed(ends)]:
            head = text[:end].rstrip()
            length = self._cut_prefix_length(head.lower())
            if length:
                text = head[:-length] + REDACTED + text[len(head) :]
        return text

    def _cut_prefix_length(self, lowered_head: str) -> int:
        """How many characters at the end of the text begin one of the forms (0: none, or too few)."""
        assert self._beginnings is not None
        if not self._beginnings.search(lowered_head, max(len(lowered_head) - self._longest, 0)):
            return 0
        longest = 0
        for form in self._lowered:
            tail = lowered_head[-(len(form) - 1) :] if len(form) > 1 else ""
            start = tail.find(form[:MIN_CUT_PREFIX])
            while start != -1 and len(tail) - start > longest:
                if form.startswith(tail[start:]) and len(tail) - start >= MIN_CUT_PREFIX:
                    longest = len(tail) - start
                    break
                start = tail.find(form[:MIN_CUT_PREFIX], start + 1)
        return longest


# PostgreSQL's own error detail quotes the row or key it refused ("Failing row contains (...)",
# "Key (digest)=(...) already exists"): values hide_parameters does not cover.
_DATABASE_DETAIL = re.compile(r"^(DETAIL:\s+).+$", re.MULTILINE)
HIDDEN_DETAIL = "(hidden: it may quote a row's values)"


def hide_database_details(text: str) -> str:
    """``text`` without the DETAIL lines of PostgreSQL errors (the primary message stays)."""
    return _DATABASE_DETAIL.sub(lambda found: found.group(1) + HIDDEN_DETAIL, text)
