"""Is a reply an opt-out? Its whole text, trimmed, compared case- and accent-insensitively with a
keyword list: "STOP", " Stop ", "REZYGNUJĘ" and "rezygnuje" opt out; "nie wiem, oddzwonię" does not
(a keyword inside a longer text is a conversation, not a request to stop)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# English carriers' standard words, and Polish ones ("NIE" = "no", "REZYGNUJĘ" = "I resign").
DEFAULT_OPTOUT_KEYWORDS: tuple[str, ...] = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "NIE",
    "REZYGNUJĘ",
)

# Letters NFKD does not split into a base letter and a mark.
_UNSPLIT = str.maketrans({"ł": "l", "Ł": "l", "ß": "ss", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d"})


def folded(text: str) -> str:
    """``text`` trimmed, accents removed and case folded: the form keywords are compared in."""
    decomposed = unicodedata.normalize("NFKD", text.strip().translate(_UNSPLIT))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def keyword_set(keywords: Iterable[str]) -> frozenset[str]:
    return frozenset(word for word in (folded(keyword) for keyword in keywords) if word)


def is_optout(text: str, keywords: frozenset[str]) -> bool:
    """True when the whole reply is one of ``keywords`` (already ``keyword_set``)."""
    return folded(text) in keywords
