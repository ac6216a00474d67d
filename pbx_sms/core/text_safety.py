"""Text from callers and hand-written rows, made safe to print on a terminal or in a log line (pure).

A caller ID is chosen by whoever calls: with a line break it forges a log line, with ESC it sends terminal
escape sequences (colours, cursor moves, window titles) to whoever reads ``pbx-sms log`` or the journal.
Control characters (C0, DEL, C1) and the Unicode line and paragraph separators are written as visible
escapes (``\\n``, ``\\x1b``, ``\\u2028``); everything else, non-Latin scripts and emoji included, stays.
"""

from __future__ import annotations

import re
from typing import Final

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_char(char: str) -> str:
    """One control character as its visible escape."""
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def has_controls(text: str) -> bool:
    return _CONTROL.search(text) is not None


def escape_controls(text: str, keep: str = "") -> str:
    """``text`` with each control character written as an escape; those in ``keep`` (e.g. ``"\\n"`` for a
    traceback) stay as they are."""
    if _CONTROL.search(text) is None:
        return text
    if not keep:
        return _CONTROL.sub(lambda match: escape_char(match.group()), text)
    return _CONTROL.sub(lambda match: match.group() if match.group() in keep else escape_char(match.group()), text)


_JSON_UNESCAPED_CONTROL: Final = re.compile("[\x7f-\x9f\u2028\u2029]")


def escape_json_controls(document: str) -> str:
    """A JSON document (``json.dumps(..., ensure_ascii=False)``) with the control characters JSON leaves
    raw (DEL, C1, U+2028/2029) written as ``\\uXXXX``; it parses to the same value. They can only be
    inside strings, where the escape means the same character."""
    if _JSON_UNESCAPED_CONTROL.search(document) is None:
        return document
    return _JSON_UNESCAPED_CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", document)
