"""SMS text templates: ``{placeholder}`` checking and rendering for a completed call (pure).

The syntax is the plain-name subset of ``str.format``: ``{name}`` for one of ``PLACEHOLDERS``, ``{{`` and ``}}``
for literal braces. Attribute/index access, format specs and conversions are rejected: rule texts are written by
admins, and ``{other_party.__class__}`` or ``{talk_s:>99999}`` have no business in an SMS.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.schedule import zone
from pbx_sms.core.timezones import validate_timezone

# In the order the documentation lists them; error messages show them in this order.
PLACEHOLDER_ORDER: Final = (
    "other_party",
    "number",
    "direction",
    "status",
    "talk_s",
    "talk_min",
    "date",
    "time",
    "rule",
)
PLACEHOLDERS: Final = frozenset(PLACEHOLDER_ORDER)
# What {other_party} says when the other party is not a phone number: a caller chooses their caller ID,
# and a staff SMS must not carry whatever text they put there.
UNKNOWN_OTHER_PARTY: Final = "unknown number"
# The most characters each placeholder but {rule} (the rule's own name) can put into a text, all of them
# GSM-7 basic characters (digits, a-z, "+", "_", "-", ":"), so that a text's largest part count is known
# when the rule is saved. talk_s is a count of seconds: at most 19 digits (a 64-bit integer).
PLACEHOLDER_MAX_CHARS: Final = {
    "other_party": max(len("+999999999999999"), len(UNKNOWN_OTHER_PARTY)),
    "number": len("+999999999999999"),
    "direction": len("out"),
    "status": len("no_answer"),
    "talk_s": 19,
    "talk_min": 19,
    "date": len("2026-01-31"),
    "time": len("23:59"),
}
_PHONE_NUMBER_RE: Final = re.compile(r"\+?[0-9]{1,15}")
_ALLOWED: Final = ", ".join("{" + name + "}" for name in PLACEHOLDER_ORDER)

_BRACE_RE: Final = re.compile(r"[{}]")
_FIELD_NAME_END_RE: Final = re.compile(r"[{}:!]")
_ACCESS_RE: Final = re.compile(r"[.\[]")


@dataclass(frozen=True, slots=True)
class _Compiled:
    # Alternating literal text and placeholder names: literal, name, literal, name, ..., literal.
    pieces: tuple[str, ...]
    errors: tuple[str, ...]


def _where(text: str, index: int) -> str:
    """Human position of ``text[index]``: 1-based column, plus the line when the text has several."""
    line_start = text.rfind("\n", 0, index) + 1
    column = index - line_start + 1
    if "\n" not in text:
        return f"column {column}"
    return f"line {text.count(chr(10), 0, index) + 1}, column {column}"


def _unknown_name_error(where: str, name: str, field: str) -> str:
    if not name:
        return f"{where}: {{{field}}} has no placeholder name; allowed: {_ALLOWED}"
    within = "" if name == field else f" in {{{field}}}"
    message = f"{where}: unknown placeholder {{{name}}}{within}; allowed: {_ALLOWED}"
    if name.strip() in PLACEHOLDERS:
        return f"{message}; no spaces inside the braces: write {{{name.strip()}}}"
    close = difflib.get_close_matches(name, PLACEHOLDER_ORDER, n=1)
    if close:
        return f"{message}; did you mean {{{close[0]}}}?"
    return message


def _field_errors(where: str, field: str, name_end: int) -> list[str]:
    """Problems of one ``{...}``; ``field`` is the text between the braces, ``name_end`` where its name stops."""
    field_name, suffix = field[:name_end], field[name_end:]
    if not field:
        return [f"{where}: empty placeholder {{}}; put a name inside ({_ALLOWED}) or write {{{{}}}} for literal braces"]
    errors: list[str] = []
    access = _ACCESS_RE.search(field_name)
    name = field_name[: access.start()] if access else field_name
    if name not in PLACEHOLDERS:
        errors.append(_unknown_name_error(where, name, field))
    plain = f"write just {{{name}}}" if name in PLACEHOLDERS else "write a plain placeholder name"
    if access:
        errors.append(
            f"{where}: {{{field}}} uses attribute or index access ({field_name[access.start() :]!r}), "
            f"which is not supported; {plain}"
        )
    if suffix.startswith("!"):
        conversion, colon, spec = suffix.partition(":")
        errors.append(f"{where}: {{{field}}} has a conversion ({conversion!r}), which is not supported; {plain}")
        if colon:
            errors.append(f"{where}: {{{field}}} has a format spec ({':' + spec!r}), which is not supported; {plain}")
    elif suffix.startswith(":"):
        errors.append(f"{where}: {{{field}}} has a format spec ({suffix!r}), which is not supported; {plain}")
    return errors


def _spec_end(text: str, start: int) -> int:
    """Index of the ``}`` that closes a field whose spec starts at ``start`` (specs may nest braces); -1 if none."""
    depth = 0
    for match in _BRACE_RE.finditer(text, start):
        if match.group() == "{":
            depth += 1
        elif depth:
            depth -= 1
        else:
            return match.start()
    return -1


@lru_cache(maxsize=1024)
def _compile(text: str) -> _Compiled:
    pieces: list[str] = []
    literal: list[str] = []
    errors: list[str] = []
    index = 0
    while (brace := _BRACE_RE.search(text, index)) is not None:
        at = brace.start()
        literal.append(text[index:at])
        doubled = text.startswith(brace.group() * 2, at)
        if doubled:
            literal.append(brace.group())
            index = at + 2
            continue
        if brace.group() == "}":
            errors.append(f"{_where(text, at)}: single '}}' without an opening '{{'; write }}}} for a literal '}}'")
            index = at + 1
            continue
        name_end = _FIELD_NAME_END_RE.search(text, at + 1)
        if name_end is None or name_end.group() == "{":
            errors.append(f"{_where(text, at)}: '{{' is never closed; write {{{{ for a literal '{{'")
            index = name_end.start() if name_end else len(text)
            continue
        close = name_end.start() if name_end.group() == "}" else _spec_end(text, name_end.start())
        if close < 0:
            errors.append(f"{_where(text, at)}: '{{' is never closed; write {{{{ for a literal '{{'")
            index = len(text)
            continue
        field = text[at + 1 : close]
        field_errors = _field_errors(_where(text, at), field, name_end.start() - at - 1)
        errors.extend(field_errors)
        if not field_errors:
            pieces.append("".join(literal))
            pieces.append(field)
            literal.clear()
        index = close + 1
    literal.append(text[index:])
    pieces.append("".join(literal))
    return _Compiled(tuple(pieces), tuple(errors))


def template_errors(text: str) -> list[str]:
    """Every problem in an SMS text template, each naming where it is and what is allowed; [] when fine."""
    return list(_compile(text).errors)


def render(text: str, values: Mapping[str, str]) -> str:
    """The text with each ``{name}`` replaced by ``values[name]``; for a text that passed ``template_errors``."""
    compiled = _compile(text)
    if compiled.errors:
        raise ValueError("invalid SMS text: " + "; ".join(compiled.errors))
    pieces = list(compiled.pieces)
    for position in range(1, len(pieces), 2):
        name = pieces[position]
        try:
            pieces[position] = values[name]
        except KeyError:
            raise ValueError(f"no value for placeholder {{{name}}}") from None
    return "".join(pieces)


def _local(moment: datetime, timezone: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time would be read as the host's local time: silently wrong on a UTC server.
        raise ValueError(f"call end time {moment.isoformat()} has no time zone")
    return moment.astimezone(zone(validate_timezone(timezone)))


def other_party_text(other_party: str) -> str:
    """{other_party} as an SMS may say it: the number (E.164, or the digits of an extension), else
    ``UNKNOWN_OTHER_PARTY`` for a withheld, invalid or free-text caller ID."""
    return other_party if _PHONE_NUMBER_RE.fullmatch(other_party) else UNKNOWN_OTHER_PARTY


def call_values(call: CompletedCall, rule_name: str, timezone: str) -> dict[str, str]:
    """The value of every placeholder for ``call``; date and time are the call's end in ``timezone`` (IANA)."""
    ended = _local(call.ended_at, timezone)
    return {
        "other_party": other_party_text(call.other_party),
        "number": call.number or "",
        "direction": call.direction,
        "status": call.status,
        "talk_s": str(call.talk_s),
        "talk_min": str(-(-call.talk_s // 60)),
        "date": ended.date().isoformat(),
        "time": f"{ended.hour:02d}:{ended.minute:02d}",
        "rule": rule_name,
    }
