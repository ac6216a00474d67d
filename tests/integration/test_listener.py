"""The full live path over real TCP: fake Asterisk → panoramisk + our protocol → tracker → on_call."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from ami_server import AmiSession, FakeAmiServer, load_recording_events, move_to_now
from paths import FIXTURES
from pydantic import SecretStr

from pbx_sms.ami.connection import ConnectionConfig
from pbx_sms.ami.listener import AmiListener
from pbx_sms.ami.status import ConnectionState
from pbx_sms.ami.tracker import CallTracker, TrackerConfig
from pbx_sms.core.call import CompletedCall

SECRET = "listener-secret"
GRACE_S = 0.05
RECORDINGS = [
    "in_answered",
    "in_queue",
    "in_polish_name",
    "sip_in_queue",
    "busy_hour",
    "in_busy",
    "in_noanswer",
    "out_answered",
    "shared_in_blind_xfer",
    "shared_in_attended_xfer",
    "shared_in_forward_mobile",
    "shared_in_voicemail",
    "shared_out_mobile_answered",
]
GARBAGE = b"this is not AMI at all\r\n\x00\x01\x02 binary junk\r\n\r\n"
HUGE_LINE = b"X-Huge: " + b"A" * (1024 * 1024) + b"\r\n\r\n"
INVALID_UTF8_EVENT = (
    b"Event: Newstate\r\nPrivilege: call,all\r\nChannel: PJSIP/999-00000099\r\nChannelState: 6\r\n"
    b"CallerIDName: \xff\xfe\xc5 broken \xe2\x82\r\nUniqueid: 999.1\r\nLinkedid: 999.1\r\n\r\n"
)
TRUNCATED = b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/201-0000"


def expected_calls(recording: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (FIXTURES / "expected.jsonl").read_text().splitlines() if line.strip()]
    return [row for row in rows if row["recording"] == recording]


def events_now(recording: str, variant: str, now_s: float | None = None) -> tuple[list[bytes], float]:
    return move_to_now(load_recording_events(FIXTURES / f"{recording}.{variant}.ami"), now_s)


def assert_calls_match(calls: Sequence[CompletedCall], expected: Sequence[dict[str, Any]], delta_s: float) -> None:
    """Exactly the expected calls; times moved by ``delta_s``; ±1 s on talk time and times."""
    got = {call.call_id: call for call in calls}
    assert len(got) == len(calls), "a call was emitted twice"
    assert sorted(got) == sorted(row["call_id"] for row in expected)
    shift = timedelta(seconds=delta_s)
    for row in expected:
        call = got[row["call_id"]]
        assert (call.direction, call.number, call.other_party, call.status) == (
            row["direction"],
            row["number"],
            row["other_party"],
            row["status"],
        ), row
        assert abs(call.talk_s - row["talk_s"]) <= 1, row
        for name in ("started_at", "ended_at"):
            want = datetime.fromisoformat(row[name]) + shift
            assert abs((getattr(call, name) - want).total_seconds()) <= 1.0, (name, row)


class Calls:
    def __init__(self) -> None:
        self.items: list[CompletedCall] = []
        self.arrived_at: list[float] = []
        self.changed = asyncio.Event()

    async def __call__(self, call: CompletedCall) -> None:
        self.items.append(call)
        self.arrived_at.append(time.monotonic())
        self.changed.set()

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> None:
        async def reached() -> None:
            while len(self.items) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(reached(), timeout_s)


def connection_config(server: FakeAmiServer, **overrides: Any) -> ConnectionConfig:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "username": "pbx-sms",
        "secret": SecretStr(SECRET),
        "ping_interval_s": 5.0,
        "ping_timeout_s": 1.0,
        "reconnect_min_s": 0.02,
        "reconnect_max_s": 0.1,
    }
    values.update(overrides)
    return ConnectionConfig(**values)


@asynccontextmanager
async def listening(server: FakeAmiServer, on_call: Calls) -> AsyncIterator[AmiListener]:
    listener = AmiListener(connection_config(server), CallTracker(TrackerConfig(cdr_grace_s=GRACE_S)), on_call)
    task = asyncio.create_task(listener.run())
    try:
        yield listener
    finally:
        listener.stop()
        await asyncio.wait_for(task, 5)


async def settle(listener: AmiListener, timeout_s: float = 5.0) -> None:
    """Wait until every call the server sent is out of the tracker and handed on."""
    deadline = time.monotonic() + timeout_s
    while listener.tracker.open_calls or listener.status.pending_deliveries:
        if time.monotonic() > deadline:
            raise AssertionError(f"still {listener.tracker.open_calls} open calls")
        await asyncio.sleep(0.01)


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("variant", ["all", "callcdr"])
@pytest.mark.parametrize("recording", RECORDINGS)
async def test_recording_over_tcp_gives_exactly_the_expected_calls(recording: str, variant: str) -> None:
    blocks, delta_s = events_now(recording, variant)
    expected = expected_calls(recording)
    assert expected

    async def replay(session: AmiSession) -> None:
        await session.send_events(blocks)

    calls = Calls()
    async with FakeAmiServer(secret=SECRET, handler=replay) as server, listening(server, calls) as listener:
        await calls.wait_for(len(expected))
        await settle(listener)
        await asyncio.sleep(2 * GRACE_S)  # nothing more may come
        assert listener.status.dropped_calls == 0
    assert_calls_match(calls.items, expected, delta_s)


async def test_paced_replay_emits_the_last_call_of_a_quiet_night_after_the_grace_period() -> None:
    blocks, delta_s = events_now("in_answered", "callcdr")
    sent_at: list[float] = []

    async def replay_and_fall_silent(session: AmiSession) -> None:
        await session.send_events(blocks, pace=20.0)  # ~6 s of call in ~0.3 s
        sent_at.append(time.monotonic())

    calls = Calls()
    async with FakeAmiServer(secret=SECRET, handler=replay_and_fall_silent) as server, listening(server, calls):
        await calls.wait_for(1)
        assert sent_at, "the call was emitted before the server finished sending it"
        latency_s = calls.arrived_at[0] - sent_at[0]
        # The Cdr after the last Hangup is part of the stream; the call waits out its grace, no longer.
        assert latency_s < GRACE_S + 0.25
    assert_calls_match(calls.items, expected_calls("in_answered"), delta_s)


async def test_survives_garbage_huge_line_invalid_utf8_truncation_and_drop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    now_s = time.time()
    queue_blocks, queue_delta = events_now("in_queue", "all", now_s)
    answered_blocks, answered_delta = events_now("in_answered", "callcdr", now_s)
    # An invalid byte inside a real caller name: the event must still be read, the call still counted.
    answered_blocks = [
        b.replace(b"CallerIDName: Jan Kowalski", b"CallerIDName: Jan \xff Kowalski") for b in answered_blocks
    ]
    busy_blocks, _ = events_now("in_busy", "callcdr", now_s)
    polish_blocks, polish_delta = events_now("in_polish_name", "callcdr", now_s)
    sip_blocks, sip_delta = events_now("sip_in_queue", "callcdr", now_s)
    busy_half = busy_blocks[: len(busy_blocks) // 2]

    async def hostile(session: AmiSession) -> None:
        if session.index == 0:
            await session.send_events(queue_blocks)
            await session.send(GARBAGE + HUGE_LINE + INVALID_UTF8_EVENT)
            await session.send_events(answered_blocks)
            await session.send_events(busy_half)  # a call in progress when the connection dies
            await session.send(TRUNCATED)
            await asyncio.sleep(0.2)
            await session.drop()
        elif session.index == 1:
            await session.send_events(polish_blocks)
            stream = b"".join(sip_blocks)
            cuts = random.Random(4).sample(range(1, len(stream)), 40)
            await session.send(stream, split_at=cuts)

    calls = Calls()
    async with FakeAmiServer(secret=SECRET, handler=hostile) as server, listening(server, calls) as listener:
        await calls.wait_for(4, timeout_s=10)
        await wait_until(lambda: listener.status.pending_deliveries == 0)  # 2 calls stay open: see below
        await asyncio.sleep(2 * GRACE_S)
        status = listener.status
        assert status.connection.connects == 2
        assert status.connection.state is ConnectionState.UP
        # The Newstate with broken UTF-8 names a call first heard of mid-way, and the call cut off by
        # the drop is kept across it: both stay open (their end never comes), never emitted.
        assert (status.dropped_calls, status.open_calls) == (0, 2)
        assert status.connection.oversized_messages == 1  # the 1 MB line, and nothing after it
        assert status.connection.malformed_messages >= 1  # the garbage block
        assert status.connection.skipped_events > 100  # read=all: VarSet, Newexten ... never parsed
        assert (status.unknown_channel_events, status.malformed_events, status.orphan_cdrs) == (0, 0, 0)
        assert status.to_json()["open_calls"] == 2
    by_id = {call.call_id: call for call in calls.items}
    assert len(by_id) == len(calls.items) == 4
    assert_calls_match([by_id["1795574813.30"]], expected_calls("in_queue"), queue_delta)
    assert_calls_match([by_id["1795574695.4"]], expected_calls("in_answered"), answered_delta)
    assert_calls_match([by_id["1795574975.228"]], expected_calls("in_polish_name"), polish_delta)
    assert_calls_match([by_id["1795575934.110"]], expected_calls("sip_in_queue"), sip_delta)
    assert "1795574774.12" not in by_id  # the busy call cut by the drop is not emitted half-known
    assert "2 calls in progress kept across the gap" in caplog.text
    assert "AMI: down" in caplog.text


async def test_utf8_caller_name_split_across_tcp_writes_arrives_intact() -> None:
    blocks, _ = events_now("in_polish_name", "callcdr")
    stream = b"".join(blocks)
    name = "Łukasz Żółć-Gęślą".encode()
    first = stream.index(name)
    # Cut inside every multi-byte character of the first occurrence of the name.
    cuts = [first + i for i in range(1, len(name)) if name[i] & 0xC0 == 0x80]
    names: list[str] = []
    calls = Calls()

    async def split_replay(session: AmiSession) -> None:
        await session.send(stream, split_at=cuts, pause_s=0.01)

    async with FakeAmiServer(secret=SECRET, handler=split_replay) as server:
        listener = AmiListener(connection_config(server), CallTracker(TrackerConfig(cdr_grace_s=GRACE_S)), calls)
        received = listener._event_received

        def spy(message: Any) -> None:
            if message.get("CallerIDName") and message.get("CallerIDName") != "<unknown>":
                names.append(message.get("CallerIDName"))
            received(message)

        listener.connection._on_event = spy
        task = asyncio.create_task(listener.run())
        await calls.wait_for(1)
        listener.stop()
        await asyncio.wait_for(task, 5)
    assert names
    assert set(names) == {"Łukasz Żółć-Gęślą"}
    assert calls.items[0].status == "answered"


async def test_stop_hands_on_completed_calls_and_drops_calls_in_progress() -> None:
    blocks, _ = events_now("in_answered", "callcdr")
    busy_blocks, _ = events_now("in_busy", "callcdr")
    hung_up = blocks  # the whole in_answered call: all channels hung up
    in_progress = busy_blocks[:3]

    async def replay(session: AmiSession) -> None:
        await session.send_events(hung_up + in_progress)

    calls = Calls()
    async with FakeAmiServer(secret=SECRET, handler=replay) as server:
        # A grace period far longer than the test: only stop() can emit the finished call.
        listener = AmiListener(connection_config(server), CallTracker(TrackerConfig(cdr_grace_s=30.0)), calls)
        task = asyncio.create_task(listener.run())
        await wait_until(lambda: listener.tracker.open_calls == 2)
        assert calls.items == []
        listener.stop()
        await asyncio.wait_for(task, 5)
        assert [a["Action"] for a in server.sessions[0].actions] == ["Login", "CoreShowChannels", "Logoff"]
    assert [call.call_id for call in calls.items] == ["1795574695.4"]
    status = listener.status
    assert (status.completed_calls, status.delivered_calls, status.dropped_calls, status.open_calls) == (1, 1, 1, 0)
    assert status.to_json()["connection"]["state"] == "stopped"


async def test_a_failing_consumer_does_not_stop_the_listener(caplog: pytest.LogCaptureFixture) -> None:
    first, _ = events_now("in_answered", "callcdr")
    second, delta_second = events_now("in_polish_name", "callcdr")
    delivered: list[CompletedCall] = []

    async def flaky(call: CompletedCall) -> None:
        if not delivered and call.call_id == "1795574695.4":
            delivered.append(call)
            raise RuntimeError("database is down")
        delivered.append(call)

    async def replay(session: AmiSession) -> None:
        await session.send_events(first)
        await asyncio.sleep(0.2)
        await session.send_events(second)

    async with FakeAmiServer(secret=SECRET, handler=replay) as server:
        listener = AmiListener(connection_config(server), CallTracker(TrackerConfig(cdr_grace_s=GRACE_S)), flaky)
        task = asyncio.create_task(listener.run())
        await wait_until(lambda: len(delivered) == 2)
        listener.stop()
        await asyncio.wait_for(task, 5)
    assert [call.call_id for call in delivered] == ["1795574695.4", "1795574975.228"]
    assert listener.status.failed_deliveries == 1
    assert "handing on call 1795574695.4" in caplog.text
    assert "database is down" in caplog.text
    assert_calls_match(delivered[1:], expected_calls("in_polish_name"), delta_second)
