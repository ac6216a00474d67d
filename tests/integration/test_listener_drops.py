"""The live listener when the fake AMI server drops the connection mid-call: calls are kept across
the reconnect; a read-only user completes them from the events still to come and their Cdrs, a user
allowed CoreShowChannels also ends those that hung up while nobody listened."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest
from ami_server import FakeAmiServer, replay_with_drop

from integration.test_listener import (
    GRACE_S,
    SECRET,
    Calls,
    assert_calls_match,
    events_now,
    expected_calls,
    listening,
    settle,
    wait_until,
)
from pbx_sms.ami.parser import AmiStreamParser

# Events of this long (recording time) after the drop never reach the listener: the reconnect time.
GAP_S = 0.4


def fields_of(block: bytes) -> dict[str, str]:
    return next(iter(AmiStreamParser(None).feed(block))).fields


def drop_point(blocks: list[bytes], where: str) -> tuple[int, int]:
    """(blocks sent before the drop, blocks lost) for a drop mid-dial, mid-bridge, just before a
    call hangs up, or between the last Hangup of a call and its Cdr."""
    events = [fields_of(block) for block in blocks]
    if where == "mid-dial":
        drop_after = next(i for i, e in enumerate(events) if i > 100 and e.get("Event") == "DialBegin") + 1
    elif where == "mid-bridge":
        drop_after = next(i for i, e in enumerate(events) if i > 300 and e.get("Event") == "BridgeEnter") + 1
    elif where == "before-hangup":
        drop_after = next(i for i, e in enumerate(events) if i > 300 and e.get("Event") == "Hangup")
    else:
        cdr = next(
            i
            for i, e in enumerate(events)
            if i > 500 and e.get("Event") == "Cdr" and events[i - 1].get("Event") == "Hangup"
        )
        return cdr, 0  # nothing lost: the Cdr comes on the new connection
    dropped_s = float(events[drop_after]["Timestamp"])
    lost = next(i for i in range(drop_after, len(events)) if float(events[i]["Timestamp"]) >= dropped_s + GAP_S)
    return drop_after, lost - drop_after


def ending_after(blocks: list[bytes]) -> set[str]:
    return {e["Linkedid"] for e in map(fields_of, blocks) if e.get("Event") == "Hangup"}


def alive_at(blocks: list[bytes]) -> list[dict[str, str]]:
    """What CoreShowChannels would list after ``blocks``: the channels created and not hung up,
    as their last event showed them, with their Duration."""
    created_s: dict[str, float] = {}
    alive: dict[str, dict[str, str]] = {}
    for event in map(fields_of, blocks):
        uniqueid = event.get("Uniqueid", "")
        if event.get("Event") == "Newchannel":
            created_s[uniqueid] = float(event["Timestamp"])
        if event.get("Event") == "Hangup":
            alive.pop(uniqueid, None)
        elif uniqueid in created_s and "Channel" in event:
            keys = ("Channel", "ChannelState", "CallerIDNum", "Context", "Exten", "Uniqueid", "Linkedid")
            alive[uniqueid] = {key: event.get(key, "") for key in keys}
    for uniqueid, channel in alive.items():
        minutes, seconds = divmod(int(time.time() - created_s[uniqueid]), 60)
        channel["Duration"] = f"00:{minutes:02d}:{seconds:02d}"
    return list(alive.values())


@pytest.mark.parametrize("where", ["mid-dial", "mid-bridge", "between-hangup-and-cdr"])
async def test_calls_ending_after_a_drop_come_out_as_without_it(where: str) -> None:
    blocks, delta_s = events_now("busy_hour", "callcdr")
    drop_after, lost = drop_point(blocks, where)
    must_come = ending_after(blocks[drop_after + lost :])
    expected = {row["call_id"]: row for row in expected_calls("busy_hour")}
    calls = Calls()
    handler = replay_with_drop(blocks, drop_after, lost)
    async with FakeAmiServer(secret=SECRET, handler=handler) as server, listening(server, calls) as listener:
        await calls.wait_for(len(must_come), timeout_s=10)
        await asyncio.sleep(3 * GRACE_S)
        assert listener.status.connection.connects == 2
        assert listener.status.dropped_calls == 0
    by_id = {call.call_id: call for call in calls.items}
    assert len(by_id) == len(calls.items), "a call was emitted twice"
    assert must_come <= by_id.keys() <= expected.keys()
    assert_calls_match([by_id[i] for i in must_come], [expected[i] for i in must_come], delta_s)
    evidence = Counter(call.evidence for call in calls.items)
    assert evidence["gap"] >= 1 and evidence["full"] >= 1


async def test_with_coreshowchannels_the_calls_that_ended_in_the_gap_come_out_too() -> None:
    blocks, delta_s = events_now("busy_hour", "callcdr")
    drop_after, lost = drop_point(blocks, "before-hangup")
    must_come = ending_after(blocks[drop_after + lost :])
    calls = Calls()
    handler = replay_with_drop(blocks, drop_after, lost)

    def channels() -> list[dict[str, str]]:
        return alive_at(blocks[: drop_after + lost])

    server_ctx = FakeAmiServer(secret=SECRET, handler=handler, channels=channels)
    async with server_ctx as server, listening(server, calls) as listener:
        await calls.wait_for(len(expected_calls("busy_hour")), timeout_s=10)
        await settle(listener)
        assert [a["Action"] for a in server.sessions[1].actions] == ["Login", "CoreShowChannels"]
    by_id = {call.call_id: call for call in calls.items}
    assert sorted(by_id) == sorted(row["call_id"] for row in expected_calls("busy_hour"))
    rows = [row for row in expected_calls("busy_hour") if row["call_id"] in must_come]
    assert_calls_match([by_id[row["call_id"]] for row in rows], rows, delta_s)
    gone_in_gap = ending_after(blocks[drop_after : drop_after + lost]) - must_come
    assert gone_in_gap and {by_id[call_id].evidence for call_id in gone_in_gap} == {"gap"}


async def test_an_asterisk_restart_mid_call_drops_those_calls_logs_each_and_sends_nothing_half_known(
    caplog: pytest.LogCaptureFixture,
) -> None:
    busy, _ = events_now("busy_hour", "callcdr")
    after_restart, delta_s = events_now("in_answered", "callcdr")  # its channels are numbered from 4 again
    cut = 300
    in_progress = {e["Linkedid"] for e in map(fields_of, busy[:cut]) if "Linkedid" in e} - {
        e["Linkedid"] for e in map(fields_of, busy[:cut]) if e.get("Event") == "Hangup"
    }
    calls = Calls()
    handler = replay_with_drop([*busy[:cut], *after_restart], cut)
    async with FakeAmiServer(secret=SECRET, handler=handler) as server, listening(server, calls) as listener:
        await wait_until(lambda: any(call.call_id == "1795574695.4" for call in calls.items), timeout_s=10)
        await settle(listener)
        dropped = listener.status.dropped_calls
    by_id = {call.call_id: call for call in calls.items}
    assert_calls_match([by_id["1795574695.4"]], expected_calls("in_answered"), delta_s)
    assert not in_progress & by_id.keys()
    logged = [r.getMessage() for r in caplog.records if "Asterisk restarted" in r.getMessage()]
    assert sorted(message.split(":")[0] for message in logged) == sorted(f"call {i}" for i in in_progress)
    assert dropped == len(in_progress) > 0
