"""SMS text encoding per GSM 03.38 / 3GPP TS 23.038: GSM-7 or UCS-2, units, parts, transliteration (pure).

A message is GSM-7 when every character is in the default alphabet or its extension table; one character
outside it switches the whole message to UCS-2. Limits per part (the user data header of a concatenated SMS
takes 6 octets): GSM-7 160 septets alone, 153 per part; UCS-2 70 UTF-16 units alone, 67 per part. Extension
characters are sent as ESC + char (2 septets) and an astral character as a surrogate pair (2 units); phones
cannot reassemble either when it is cut between parts, so a part ends one unit early instead.

National language shift tables (Turkish, Spanish, Portuguese, Indian) are not used: few gateways support them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_SINGLE_SEPTETS: Final = 160
GSM7_PART_SEPTETS: Final = 153
UCS2_SINGLE_UNITS: Final = 70
UCS2_PART_UNITS: Final = 67

# The default alphabet in code order 0x00..0x7F; 0x1B is the escape to the extension table, not a character.
_GSM7_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(_GSM7_BASIC_TABLE) == 128
GSM7_BASIC: Final = frozenset(_GSM7_BASIC_TABLE) - {"\x1b"}
# Sent as ESC + char: 2 septets each. Form feed is in the table too.
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
GSM7_CHARS: Final = GSM7_BASIC | GSM7_EXTENSION

_NOT_GSM7_RE: Final = re.compile("[^" + "".join(re.escape(c) for c in sorted(GSM7_CHARS)) + "]")
_GSM7_EXTENSION_RE: Final = re.compile("[" + "".join(re.escape(c) for c in sorted(GSM7_EXTENSION)) + "]")
_ASTRAL_RE: Final = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class SmsEncoding:
    """How a text travels: ``units`` are septets for GSM-7 (extension chars count 2), UTF-16 units for UCS-2."""

    encoding: Encoding
    parts: int
    units: int


def is_gsm7(text: str) -> bool:
    """True when every character is in the GSM-7 default alphabet or its extension table."""
    return _NOT_GSM7_RE.search(text) is None


@dataclass(frozen=True, slots=True)
class _Scheme:
    encoding: Encoding
    double_unit_re: re.Pattern[str]
    single_limit: int
    part_limit: int


_GSM7_SCHEME: Final = _Scheme("GSM-7", _GSM7_EXTENSION_RE, GSM7_SINGLE_SEPTETS, GSM7_PART_SEPTETS)
_UCS2_SCHEME: Final = _Scheme("UCS-2", _ASTRAL_RE, UCS2_SINGLE_UNITS, UCS2_PART_UNITS)


def _scheme(text: str) -> _Scheme:
    return _GSM7_SCHEME if is_gsm7(text) else _UCS2_SCHEME


def _double_starts(text: str, scheme: _Scheme) -> list[int]:
    """Unit offsets, ascending, where a 2-unit character (escape pair / surrogate pair) starts."""
    # The k-th 2-unit character at index i starts at unit i + k (the k before it each took one extra unit).
    return [match.start() + k for k, match in enumerate(scheme.double_unit_re.finditer(text))]


def _part_ends(units: int, double_starts: list[int], scheme: _Scheme) -> list[int]:
    """Unit offset where each part ends; greedy, a part ends one unit early rather than cut a 2-unit character."""
    if units <= scheme.single_limit:
        return [units]
    limit = scheme.part_limit
    if not double_starts:
        return [*range(limit, units, limit), units]
    starts = set(double_starts)
    ends: list[int] = []
    start = 0
    while units - start > limit:
        end = start + limit
        if end - 1 in starts:
            end -= 1
        ends.append(end)
        start = end
    ends.append(units)
    return ends


def analyse(text: str) -> SmsEncoding:
    """Encoding, total units and number of parts (1 for an empty text) of ``text`` as a phone would send it."""
    scheme = _scheme(text)
    if scheme.double_unit_re.search(text) is None:
        units = len(text)
        parts = 1 if units <= scheme.single_limit else -(-units // scheme.part_limit)
        return SmsEncoding(scheme.encoding, parts, units)
    double_starts = _double_starts(text, scheme)
    units = len(text) + len(double_starts)
    return SmsEncoding(scheme.encoding, len(_part_ends(units, double_starts, scheme)), units)


def units_left_in_last_part(text: str) -> int:
    """How many more one-unit characters fit in ``text``'s last part before it needs another part (a text
    of one part: before it must be split, which then costs the header of a concatenated SMS)."""
    scheme = _scheme(text)
    double_starts = _double_starts(text, scheme)
    units = len(text) + len(double_starts)
    if units <= scheme.single_limit:
        return scheme.single_limit - units
    ends = _part_ends(units, double_starts, scheme)
    return scheme.part_limit - (ends[-1] - ends[-2])


# --- transliteration -------------------------------------------------------------------------------------------

_APOSTROPHES: Final = "‘’‚‛′‵‹›`´ʹʻʼʽˈ"
_QUOTES: Final = "“”„‟″‶«»"
_DASHES: Final = "‐‑‒–—―−⁃"
_SPACES: Final = "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Invisible characters that carry no text. Zero-width (non-)joiners stay: emoji sequences depend on them.
_INVISIBLE: Final = "\u00ad\u200b\u2060\ufeff"

_EXPLICIT: Final[dict[str, str]] = {
    # Polish first: the product's home market.
    "ą": "a", "ć": "c", "ę": "e", "ł": "l", "ń": "n", "ó": "o", "ś": "s", "ź": "z", "ż": "z",
    "Ą": "A", "Ć": "C", "Ę": "E", "Ł": "L", "Ń": "N", "Ó": "O", "Ś": "S", "Ź": "Z", "Ż": "Z",
    # Latin letters without a Unicode decomposition.
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ħ": "h", "Ħ": "H", "ı": "i",
    "ŧ": "t", "Ŧ": "T", "œ": "oe", "Œ": "OE", "ŉ": "'n", "ĸ": "q", "ẞ": "SS",
    "…": "...", "•": "-", "©": "(c)", "®": "(R)", "×": "x", "⁄": "/", "\u2028": "\n", "\u2029": "\n",
    **dict.fromkeys(_APOSTROPHES, "'"),
    **dict.fromkeys(_QUOTES, '"'),
    **dict.fromkeys(_DASHES, "-"),
    **dict.fromkeys(_SPACES, " "),
    **dict.fromkeys(_INVISIBLE, ""),
}  # fmt: skip

# "LATIN SMALL LETTER L WITH MIDDLE TILDE", "LATIN LETTER SMALL CAPITAL R", "LATIN CAPITAL LETTER AFRICAN D"...
_LATIN_NAME_RE: Final = re.compile(
    r"LATIN (?:(?P<case>CAPITAL|SMALL) (?:LETTER|LIGATURE)|SMALL CAPITAL LETTER|LETTER(?: SMALL CAPITAL)?)"
    r" (?P<base>.+?)(?: WITH(?:OUT)? .*)?"
)
# Words around the base letter that name a variant of its shape, not a different sound.
_SHAPE_PREFIXES: Final = frozenset({
    "TURNED", "REVERSED", "INVERTED", "SIDEWAYS", "SMALL", "CAPITAL", "DOTLESS", "INSULAR", "CLOSED", "BLACKLETTER",
    "SCRIPT", "BARRED", "BROKEN", "HALF", "LONG", "AFRICAN", "ARCHAIC", "STRETCHED", "SQUAT", "BASELINE", "SIGMOID",
    "VOLAPUK", "MIDDLE-WELSH", "MIDDLE", "SCOTS", "ANGLICANA", "VISIGOTHIC", "OLD", "POLISH", "TOP", "BOTTOM",
    "LENIS", "OPEN", "GLOTTAL", "DOUBLE", "IOTIFIED", "STIRRUP",
})  # fmt: skip
_SHAPE_SUFFIXES: Final = frozenset({"DIGRAPH", "ROTUNDA", "LONGA", "BAR", "REVERSED", "OPEN-O", "REVERSED-SCHWA"})
_NAMED_LETTERS: Final[dict[str, str]] = {
    "ETH": "d", "THORN": "th", "ENG": "ng", "HENG": "h", "ESH": "sh", "EZH": "zh", "SCHWA": "e",
    "KRA": "q", "YOGH": "gh", "WYNN": "w", "ALPHA": "a", "BETA": "b", "GAMMA": "g", "DELTA": "d",
    "IOTA": "i", "UPSILON": "u", "OMEGA": "o", "PHI": "f", "CHI": "x", "LAMBDA": "l", "SHARP S": "ss",
    "HWAIR": "hv", "DEZH": "dzh", "TESH": "tsh", "FENG": "fng", "LEZH": "lzh", "VEND": "v", "YR": "yr",
    "SALTILLO": "'",
}  # fmt: skip
_BASE_LETTERS_RE: Final = re.compile("[A-Z]{1,3}")


def _from_latin_name(char: str) -> str | None:
    """The base letter(s) a Latin letter's Unicode name spells, e.g. ``ƚ`` (L WITH BAR) → ``l``."""
    match = _LATIN_NAME_RE.fullmatch(unicodedata.name(char, ""))
    if match is None:
        return None
    words = match["base"].split()
    while len(words) > 1 and words[0] in _SHAPE_PREFIXES:
        words.pop(0)
    while len(words) > 1 and words[-1] in _SHAPE_SUFFIXES:
        words.pop()
    key = " ".join(words)
    letters = key if _BASE_LETTERS_RE.fullmatch(key) else _NAMED_LETTERS.get(key)
    if letters is None:
        return None
    upper = match["case"] == "CAPITAL" or (match["case"] is None and unicodedata.category(char) == "Lu")
    return letters.upper() if upper else letters.lower()


def _piece_replacement(char: str) -> str | None:
    if char in GSM7_CHARS:
        return char
    explicit = _EXPLICIT.get(char)
    return explicit if explicit is not None else _from_latin_name(char)


def _replacement(char: str) -> str:
    explicit = _EXPLICIT.get(char)
    if explicit is not None:
        return explicit
    if unicodedata.combining(char):
        # An accent left over after NFC (no precomposed letter exists): dropped like the accents of ą or č.
        return ""
    # Compatibility decomposition without the accents: ç → c, ǅ → Dž → Dz, ﬁ → fi, Ａ → A, ™ → TM.
    decomposed = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    # A bare accent (´ ¨) decomposes to space + accent; turning it into a space would be no replacement.
    if decomposed and decomposed != char and (decomposed.strip() or char.isspace()):
        pieces = [_piece_replacement(c) for c in decomposed]
        joined = "".join(piece for piece in pieces if piece is not None)
        if None not in pieces and is_gsm7(joined):
            return joined
    named = _from_latin_name(char)
    if named is not None:
        return named
    return char


_TRANSLIT_CACHE_MAX: Final = 20_000


class _TranslitTable(dict[int, str]):
    """A ``str.translate`` table that works out and remembers each code point on first sight."""

    def __missing__(self, code_point: int) -> str:
        char = chr(code_point)
        replacement = char if char in GSM7_CHARS else _replacement(char)
        if len(self) < _TRANSLIT_CACHE_MAX:
            self[code_point] = replacement
        return replacement


_TRANSLIT_TABLE: Final = _TranslitTable()


def transliterate(text: str) -> str:
    """Replace only characters GSM-7 lacks by their nearest GSM-7 spelling (ą→a, ł→l, „”→", –→-, nbsp→space).

    Characters GSM-7 has (é ö Ä Ñ ß £ € ...) stay; so do characters with no sensible replacement (emoji,
    Cyrillic, CJK): such a text stays UCS-2.
    """
    if is_gsm7(text):
        return text
    if not unicodedata.is_normalized("NFC", text):
        # Text pasted from macOS and some editors spells ą as a + combining ogonek; compose first so that
        # letters GSM-7 has (e + ◌́ = é) are kept whole.
        text = unicodedata.normalize("NFC", text)
    return text.translate(_TRANSLIT_TABLE)
