"""AMI wire protocol as a pure, incremental function over bytes.

The parser keeps bytes (never text) until a whole message has arrived, so a UTF-8
character split across two TCP reads is decoded intact.  Unwanted events are
dropped after reading only their first line, which keeps a ``read=all`` stream cheap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

BANNER_PREFIX = b"Asterisk Call Manager/"
MESSAGE_END = b"\r\n\r\n"
EVENT_PREFIX = b"Event: "
DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024


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
    fields: dict[str, str] = {}
    chan_vars: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for line in text.split("\r\n"):
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
        self._buffer = b""
        self._discarding = False
        self.banner: str | None = None
        self._banner_checked = False
        # Given: shared with the parsers of earlier connections, so the counts cover all of them.
        self.stats = ParserStats() if stats is None else stats

    def reset(self) -> None:
        """Forget partial input, e.g. after the connection was dropped."""
        self._buffer = b""
        self._discarding = False
        self.banner = None
        self._banner_checked = False

    def feed(self, data: bytes) -> list[AmiMessage]:
        buffer = self._buffer + data if self._buffer else data
        if not self._banner_checked:
            if len(buffer) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(buffer):
                self._buffer = buffer
                return []
            self._banner_checked = True
            if buffer.startswith(BANNER_PREFIX):
                end = buffer.find(b"\r\n")
                if end < 0:
                    self._banner_checked = False
                    self._buffer = buffer
                    return []
                self.banner = buffer[len(BANNER_PREFIX) : end].decode("ascii", "replace")
                buffer = buffer[end + 2 :]
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
        rest = buffer[start:]
        if len(rest) > self._max_message_bytes:
            if not self._discarding:  # one oversized message may span many reads: count it once
                self.stats.oversized += 1
            self._discarding = True
            # Keep the last 3 bytes: they may be the start of the terminator.
            rest = rest[-3:]
        self._buffer = rest
        return messages

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
            self.stats.oversized += 1
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
    if parser._buffer.strip():
        messages.extend(parser.feed(MESSAGE_END))
    return messages
