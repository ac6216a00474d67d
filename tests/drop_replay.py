"""Replaying a recording through the tracker with the AMI connection lost at one point (a test helper).

The connection drops before event ``drop_at``; the events of the next ``gap_s`` seconds (event time)
never arrive, as AMI never replays what it sent while nobody listened; then the stream goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pbx_sms.ami.parser import AmiMessage, AmiStreamParser
from pbx_sms.ami.tracker import WANTED_EVENTS, CallTracker, TrackerConfig, timestamp_s
from pbx_sms.core.call import CompletedCall

COMPARED = ("direction", "number", "other_party", "status")


def recording_messages(path: Path) -> list[AmiMessage]:
    parser = AmiStreamParser(WANTED_EVENTS)
    return [*parser.feed(path.read_bytes()), *parser.feed(b"\r\n\r\n")]


def replay_with_drop(
    messages: Sequence[AmiMessage],
    drop_at: int | None,
    gap_s: float = 0.4,
    config: TrackerConfig | None = None,
    *,
    resync: bool = False,
) -> list[CompletedCall]:
    """The calls of the stream with the connection lost before ``messages[drop_at]`` (None: no drop);
    with ``resync`` the reconnect lists the channels alive then, as CoreShowChannels would."""
    tracker = CallTracker(config or TrackerConfig())
    calls: list[CompletedCall] = []
    now_s = 0.0
    resume_s: float | None = None
    for index, message in enumerate(messages):
        stamp_s = timestamp_s(message) or now_s
        if index == drop_at:
            tracker.connection_lost()
            resume_s = stamp_s + gap_s
        if resume_s is not None and stamp_s < resume_s:
            now_s = max(now_s, stamp_s)
            calls.extend(tracker.tick(now_s))
            continue
        if resume_s is not None and resync:
            for listed in channel_list(messages[:index]):
                calls.extend(tracker.feed(listed, now_s))
            resync = False
        now_s = max(now_s, stamp_s)
        calls.extend(tracker.feed(message, now_s))
    calls.extend(tracker.flush())
    return calls


def channel_list(messages: Sequence[AmiMessage]) -> list[AmiMessage]:
    """The CoreShowChannels reply after ``messages``: a CoreShowChannel per channel alive, then the end."""
    alive: dict[str, AmiMessage] = {}
    for message in messages:
        uniqueid = message.get("Uniqueid")
        if message.event == "Newchannel":
            alive[uniqueid] = AmiMessage({**message.fields, "Event": "CoreShowChannel"}, dict(message.chan_vars))
        elif message.event == "Hangup":
            alive.pop(uniqueid, None)
    return [*alive.values(), AmiMessage({"Event": "CoreShowChannelsComplete", "ListItems": str(len(alive))})]


def resume_index(messages: Sequence[AmiMessage], drop_at: int, gap_s: float = 0.4) -> int:
    """The first message received again after a drop before ``messages[drop_at]``."""
    resume_s = (timestamp_s(messages[drop_at]) or 0.0) + gap_s
    return next(
        (i for i in range(drop_at, len(messages)) if (timestamp_s(messages[i]) or 0.0) >= resume_s), len(messages)
    )


def calls_ending_after(messages: Sequence[AmiMessage], index: int) -> set[str]:
    """The Linkedids with a Hangup at or after ``messages[index]``: calls that end after it."""
    return {m.get("Linkedid") for m in messages[index:] if m.event == "Hangup" and m.get("Linkedid")}


def same_call(left: CompletedCall, right: CompletedCall) -> bool:
    """Classified alike (evidence aside; talk time to the second, as check-calls allows)."""
    return all(getattr(left, key) == getattr(right, key) for key in COMPARED) and abs(left.talk_s - right.talk_s) <= 1
