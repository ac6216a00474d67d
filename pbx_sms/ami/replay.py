"""Replay a recorded AMI byte stream through the same parser and tracker the live listener uses.

The tracker runs on event time: each event's Timestamp is "now", so grace periods pass exactly as
they did on the PBX without any real waiting, and the end of the input flushes every finished call.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from pbx_sms.ami.parser import AmiMessage, AmiStreamParser
from pbx_sms.ami.tracker import WANTED_EVENTS, CallTracker, TrackerConfig, timestamp_s
from pbx_sms.core.call import CompletedCall

READ_CHUNK_BYTES = 64 * 1024
# The first line of an AMI stream: the banner, or (a capture without it) a "Key: value" header.
_FIRST_LINE = re.compile(rb"^(Asterisk Call Manager/|[A-Za-z][A-Za-z0-9()_-]*: )")


def first_line_problem(head: bytes) -> str | None:
    """Why ``head`` (the start of a file) is not an AMI stream, or None when it looks like one."""
    line = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    if _FIRST_LINE.match(line):
        return None
    shown = line[:40].decode("utf-8", "replace")
    return f"line 1: expected the AMI banner 'Asterisk Call Manager/...' or a 'Key: value' header, got {shown!r}"


def replay_messages(
    messages: Iterable[AmiMessage], tracker: CallTracker, start_s: float | None = None
) -> Iterator[CompletedCall]:
    """Feed parsed messages on event time, then flush; yields calls as they complete.

    Messages without a Timestamp happen at the last time seen, or at ``start_s`` (default: the
    wall clock) before any: a stream without timestamps has no other clock.
    """
    clock_s: float | None = None
    fallback_s = time.time() if start_s is None else start_s
    for message in messages:
        stamp_s = timestamp_s(message)
        if stamp_s is not None:
            # Tracker time only moves forward: Asterisk writes a few events slightly out of order.
            clock_s = stamp_s if clock_s is None else max(clock_s, stamp_s)
        yield from tracker.feed(message, fallback_s if clock_s is None else clock_s)
    yield from tracker.flush()


def replay_chunks(
    chunks: Iterable[bytes], config: TrackerConfig, start_s: float | None = None
) -> Iterator[CompletedCall]:
    """Replay an AMI byte stream given in arbitrary pieces (as TCP would deliver it)."""
    parser = AmiStreamParser(WANTED_EVENTS)
    tracker = CallTracker(config)

    def messages() -> Iterator[AmiMessage]:
        for chunk in chunks:
            yield from parser.feed(chunk)
        # A recording may end without the blank line after its last message.
        yield from parser.feed(b"\r\n\r\n")

    return replay_messages(messages(), tracker, start_s)


def replay_calls(
    data: bytes | str | os.PathLike[str], config: TrackerConfig, start_s: float | None = None
) -> Iterator[CompletedCall]:
    """The completed calls of a recorded AMI stream: raw bytes, or the path of a recording."""
    if isinstance(data, bytes | bytearray | memoryview):
        return replay_chunks([bytes(data)], config, start_s)
    return replay_chunks(_read_chunks(Path(data)), config, start_s)


def _read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(READ_CHUNK_BYTES):
            yield chunk
