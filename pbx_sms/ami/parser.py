"""AMI wire protocol as a pure, incremental function over bytes.

The parser keeps bytes (never text) until a whole message has arrived, so a UTF-8
character split across two TCP reads is decoded intact.  Unwanted events are
dropped after reading only their first line, which keeps a ``read=all`` stream cheap.
A message arriving in many small reads is searched for its end only in the new bytes, so its cost
is linear in its size; a message over max_message_bytes is dropped (logged, counted) and the parser
resynchronises on the next blank line.

Control characters never leave the parser: Asterisk ends every line with CR LF (manager.c,
manager_channels.c) and escapes (ast_escape_c: BEL BS FF LF CR TAB VT only, not ESC) caller and
connected-line names and channel variables alone; a caller ID number, a Cdr field or a UserEvent can
carry a bare LF, ESC or NUL, which would forge a line in a log or drive a terminal.  Such characters
(C0 and C1 controls, DEL, a CR or LF not part of a CR LF, the Unicode line and paragraph separators)
are escaped in keys and values as ``\\n``, ``\\r``, ``\\t`` or ``\\xNN`` / ``\\uNNNN``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pbx_sms.core.text_safety import escape_char, escape_controls

log = logging.getLogger(__name__)

BANNER_PREFIX = b"Asterisk Call Manager/"
MESSAGE_END = b"\r\n\r\n"
EVENT_PREFIX = b"Event: "
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024
# The banner is one short line; a stream opening with the prefix and no line end is not Asterisk.
MAX_BANNER_BYTES = 256
# What may not survive parsing (see the module docstring); a CR LF between lines is not matched.
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]|\r(?!\n)|(?<!\r)\n")
# The quick test, on the raw bytes: C0 controls but CR and LF (those are counted), DEL, and the lead
# bytes of C1 controls (U+0080-U+009F: C2 80-9F) and of the line and paragraph separators (U+2028/9:
# E2 80 A8/A9).  A hit (an accented Latin-1 letter, a dash) only costs the exact test.
_SUSPECT_BYTES = bytes(byte for byte in [*range(0x20), 0x7F, 0xC2, 0xE2] if byte not in b"\r\n")


def escape_control(match: re.Match[str]) -> str:
    return escape_char(match.group())


@dataclass(slots=True)
class AmiMessage:
    """One AMI message: an event, a response, or an action we build to send.

    ``fields`` keeps the first value of each key as Asterisk spelled it; keys that repeat
    (other than ``ChanVariable``) have all their values in ``repeated``.
    """

    fields: dict[str, str]
    chan_vars: dict[str, str] = field(default_factory=dict)
    repeated: dict[str, list[str]] = field(default_factory=dict)

    @property
    def event(self) -> str | None:
        return self.fields.get("Event")

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)


@dataclass(slots=True)
class ParserStats:
    """What the parser threw away: unwanted events skipped before parsing, blocks without a single
    "Key: value" line, messages over max_message_bytes."""

    skipped: int = 0
    malformed_lines: int = 0
    oversized: int = 0


def parse_message(block: bytes) -> AmiMessage:
    """Parse one message body (no terminating blank line) into an AmiMessage."""
    text = block.decode("utf-8", "replace")
    lines = text.split("\r\n")
    line_breaks = len(lines) - 1
    # Every message is tested (C-speed, a small share of the parse); the exact test only on a hit.
    if (
        text.count("\n") != line_breaks
        or text.count("\r") != line_breaks
        or len(block.translate(None, _SUSPECT_BYTES)) != len(block)
    ) and _CONTROL.search(text) is not None:
        lines = _CONTROL.sub(escape_control, text).split("\r\n")
    fields: dict[str, str] = {}
    chan_vars: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if value.startswith(" "):
            value = value[1:]
        if key.startswith("ChanVariable"):
            # "ChanVariable: NAME=value" (Asterisk >= 12) or "ChanVariable(Chan): NAME=value".
            name, _, var_value = value.partition("=")
            chan_vars[name] = var_value
            continue
        if key in fields:
            repeated.setdefault(key, [fields[key]]).append(value)
        else:
            fields[key] = value
    return AmiMessage(fields, chan_vars, repeated)


class AmiStreamParser:
    """Incremental AMI stream parser: feed bytes, get complete messages back.

    ``wanted_events``: when given, events whose name is not in it are skipped before
    parsing.  Responses (no ``Event:`` line) are always parsed.
    """

    def __init__(
        self,
        wanted_events: Iterable[str] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        stats: ParserStats | None = None,
    ) -> None:
        self._wanted: frozenset[bytes] | None = (
            None if wanted_events is None else frozenset(e.encode() for e in wanted_events)
        )
        self._max_message_bytes = max_message_bytes
        # The start of a message not complete yet; searched for its end only where new bytes came.
        self._pending = bytearray()
        self._discarding = False
        self.banner: str | None = None
        self._banner_checked = False
        # Given: shared with the parsers of earlier connections, so the counts cover all of them.
        self.stats = ParserStats() if stats is None else stats

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for a message not complete yet (at most max_message_bytes and a little)."""
        return len(self._pending)

    def reset(self) -> None:
        """Forget partial input, e.g. after the connection was dropped."""
        self._pending = bytearray()
        self._discarding = False
        self.banner = None
        self._banner_checked = False

    def feed(self, data: bytes) -> list[AmiMessage]:
        pending = self._pending
        if pending:
            # A terminator may straddle the old bytes and the new: look from 3 bytes back.
            search_from = max(0, len(pending) - 3)
            pending += data
            if self._banner_checked and pending.find(MESSAGE_END, search_from) < 0:
                self._bound_pending()
                return []
            buffer = bytes(pending)
            pending.clear()
        else:
            buffer = data
        if not self._banner_checked:
            buffer = self._read_banner(buffer)
            if not self._banner_checked:
                return []
        messages: list[AmiMessage] = []
        start = 0
        wanted = self._wanted
        max_bytes = self._max_message_bytes
        skipped = 0
        find = buffer.find
        while True:
            end = find(MESSAGE_END, start)
            if end < 0:
                break
            if self._discarding:
                # The tail of an oversized message: drop it, resynchronise on the next one.
                self._discarding = False
            elif (
                # Most events of a read=all stream are unwanted: skip them here, without a call.
                wanted is not None
                and buffer.startswith(EVENT_PREFIX, start)
                and end - start <= max_bytes
                # The event name ends at the first line end; -1 % (end + 1) == end: a one-line message.
                and buffer[start + 7 : find(b"\r\n", start, end) % (end + 1)] not in wanted
            ):
                skipped += 1
            else:
                self._take(buffer, start, end, wanted, messages)
            start = end + 4
        self.stats.skipped += skipped
        if start < len(buffer):
            pending += memoryview(buffer)[start:]
            self._bound_pending()
        return messages

    def _read_banner(self, buffer: bytes) -> bytes:
        """The stream after the banner line, once it is whole (else keeps it pending)."""
        if len(buffer) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(buffer):
            self._pending += buffer
            return b""
        if buffer.startswith(BANNER_PREFIX):
            end = buffer.find(b"\r\n", 0, MAX_BANNER_BYTES)
            if end < 0:
                if len(buffer) < MAX_BANNER_BYTES:
                    self._pending += buffer
                    return b""
                return self._banner_done(buffer)  # no line end where a banner has one: not a banner
            self.banner = escape_controls(buffer[len(BANNER_PREFIX) : end].decode("ascii", "replace"))
            return self._banner_done(buffer[end + 2 :])
        return self._banner_done(buffer)

    def _banner_done(self, rest: bytes) -> bytes:
        self._banner_checked = True
        return rest

    def _bound_pending(self) -> None:
        """Keep what waits for its end within max_message_bytes: beyond, the message is dropped."""
        pending = self._pending
        if len(pending) <= self._max_message_bytes:
            return
        if not self._discarding:  # one oversized message may span many reads: count it once
            self._dropped_oversized()
        self._discarding = True
        # Keep the last 3 bytes: they may be the start of the terminator.
        del pending[:-3]

    def _dropped_oversized(self) -> None:
        self.stats.oversized += 1
        log.warning(
            "AMI message over %d bytes (max_message_bytes) dropped (%d so far); reading on from the next one",
            self._max_message_bytes,
            self.stats.oversized,
        )

    def _take(
        self,
        buffer: bytes,
        start: int,
        end: int,
        wanted: frozenset[bytes] | None,
        messages: list[AmiMessage],
    ) -> None:
        # Tolerate stray blank lines between messages.
        while buffer.startswith(b"\r\n", start) and start < end:
            start += 2
        if start >= end:
            return
        if end - start > self._max_message_bytes:
            # Arrived whole within one read: as oversized as one that arrived in pieces.
            self._dropped_oversized()
            return
        if wanted is not None and buffer.startswith(EVENT_PREFIX, start):
            line_end = buffer.find(b"\r\n", start, end)
            name = buffer[start + 7 : end if line_end < 0 else line_end]
            if name not in wanted:
                self.stats.skipped += 1
                return
        message = parse_message(buffer[start:end])
        if not message.fields:
            self.stats.malformed_lines += 1
            return
        messages.append(message)


def parse_stream(data: bytes, wanted_events: Iterable[str] | None = None) -> list[AmiMessage]:
    """Parse a whole recorded AMI byte stream (banner included) at once."""
    parser = AmiStreamParser(wanted_events, max_message_bytes=max(len(data), DEFAULT_MAX_MESSAGE_BYTES))
    messages = parser.feed(data)
    if parser._pending.strip():
        messages.extend(parser.feed(MESSAGE_END))
    return messages
