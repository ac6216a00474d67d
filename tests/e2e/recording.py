"""Facts read straight from a raw AMI recording, for the end-to-end oracles.

Deliberately not pbx_sms's parser or tracker: the tests compare the daemon against these.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ami_server import move_to_now

_HEADER = re.compile(rb"^([A-Za-z0-9-]+): ([^\r]*)\r$", re.MULTILINE)


def headers(block: bytes) -> dict[str, str]:
    """The first value of each header of one AMI message."""
    found: dict[str, str] = {}
    for name, value in _HEADER.findall(block):
        found.setdefault(name.decode(), value.decode("utf-8", "replace"))
    return found


@dataclass(frozen=True, slots=True)
class CallSpan:
    """Where one call (one Linkedid) lies in a list of messages."""

    call_id: str
    first_index: int
    last_hangup_index: int
    last_index: int
    last_hangup_s: float  # the Timestamp of its last Hangup: the call's end


def call_spans(blocks: Sequence[bytes]) -> dict[str, CallSpan]:
    """Every call of the recording. Cdr events name only the UniqueID: mapped through the channel events."""
    parsed = [headers(block) for block in blocks]
    linkedid_of = {h["Uniqueid"]: h["Linkedid"] for h in parsed if h.get("Uniqueid") and h.get("Linkedid")}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    last_hangup: dict[str, tuple[int, float]] = {}
    for index, h in enumerate(parsed):
        call_id = h.get("Linkedid") or linkedid_of.get(h.get("UniqueID", ""))
        if not call_id:
            continue
        first.setdefault(call_id, index)
        last[call_id] = index
        if h.get("Event") == "Hangup":
            last_hangup[call_id] = (index, float(h["Timestamp"]))
    return {
        call_id: CallSpan(call_id, first[call_id], *last_hangup[call_id][:1], last[call_id], last_hangup[call_id][1])
        for call_id in last_hangup
    }


def first_index_at(blocks: Sequence[bytes], offset_s: float) -> int:
    """The index of the first message stamped ``offset_s`` or more after the recording's first message."""
    stamps = [headers(block).get("Timestamp") for block in blocks]
    values = [float(stamp) if stamp else None for stamp in stamps]
    start_s = min(value for value in values if value is not None)
    return next(i for i, value in enumerate(values) if value is not None and value >= start_s + offset_s)


def clean_cut(spans: dict[str, CallSpan], near_index: int, length: int) -> int:
    """The first index from ``near_index`` on that splits no call between its last Hangup and its last
    event (a late Cdr): every call is then either over before the cut or still ringing/talking at it."""
    for index in range(near_index, length):
        if not any(span.last_hangup_index < index <= span.last_index for span in spans.values()):
            return index
    raise ValueError(f"no clean cut after message {near_index}")


@dataclass(frozen=True, slots=True)
class Cut:
    before: frozenset[str]  # over before the cut: the daemon sees all of them
    in_progress: frozenset[str]  # begun before the cut, over after it: cannot be rebuilt by a new listener
    after: frozenset[str]  # begun after the cut


def split_calls(spans: dict[str, CallSpan], cut_index: int) -> Cut:
    before = {c for c, s in spans.items() if s.last_index < cut_index}
    after = {c for c, s in spans.items() if s.first_index >= cut_index}
    in_progress = set(spans) - before - after
    return Cut(frozenset(before), frozenset(in_progress), frozenset(after))


def merge(streams: Sequence[tuple[Sequence[bytes], float]]) -> list[bytes]:
    """Several recordings as one stream of overlapping calls: each moved so that its last event happens
    at its own end time (epoch seconds), then all messages in time order (a message without a
    Timestamp stays right after the one before it)."""
    timed: list[tuple[float, int, bytes]] = []
    for blocks, end_s in streams:
        moved, _delta_s = move_to_now(blocks, end_s)
        at_s = 0.0
        for block in moved:
            stamp = headers(block).get("Timestamp")
            at_s = float(stamp) if stamp else at_s
            timed.append((at_s, len(timed), block))
    return [block for _at_s, _order, block in sorted(timed)]


def replace_caller(blocks: Sequence[bytes], old: str, new: str) -> list[bytes]:
    """The recording with every occurrence of a caller's number replaced (another person calls)."""
    return [block.replace(old.encode(), new.encode()) for block in blocks]
