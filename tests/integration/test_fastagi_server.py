"""The FastAGI server with the daemon's real call recorder and a real call log (SQLite, PostgreSQL),
driven by a fake Asterisk on loopback (tests/fake_asterisk.py): calls recorded, who is refused,
and hostile input (garbage, oversized, cut-off, silent peers) survived."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial

import pytest
from fake_asterisk import agi_values, environment_lines, fastagi_request
from pydantic import SecretStr
from sqlalchemy import select

from pbx_sms.config import FastAgiSettings
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import Database
from pbx_sms.fastagi import FastAgiServer
from pbx_sms.hangup.request import MAX_LINE_BYTES
from pbx_sms.intake.recorder import CallRecorder
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database

PBX = "pbx-fastagi"
SECRET = "Fast-Agi-Secret-0123456789"
WAIT_S = 15.0


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class World:
    database: Database
    recorder: CallRecorder
    server: FastAgiServer

    def rows(self) -> dict[str, dict[str, object]]:
        with self.database.engine.connect() as conn:
            return {row["call_id"]: dict(row) for row in conn.execute(select(calls_table)).mappings()}

    def counters(self) -> dict[str, int]:
        return self.server.counters.to_json()


@contextlib.asynccontextmanager
async def running_world(
    database_url: str, settings: FastAgiSettings, read_timeout_s: float = 5.0
) -> AsyncIterator[World]:
    database = open_database(database_url)
    intake = CallIntake(database, SqlOutbox(database.engine), ConfigCache(database), pbx=PBX)
    recorder = CallRecorder(intake.record, lambda: None)
    server = FastAgiServer(
        settings,
        partial(recorder.add, source="agi"),
        country="PL",
        internal_max_digits=5,
        read_timeout_s=read_timeout_s,
    )
    recording = asyncio.create_task(recorder.run())
    await server.start()
    try:
        yield World(database, recorder, server)
    finally:
        await server.stop()
        recorder.stop()
        await asyncio.wait_for(recording, WAIT_S)
        database.close()


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    async with running_world(database_url, FastAgiSettings(port=0)) as world:
        yield world


async def test_an_answered_call_is_recorded_as_the_hook_reported_it(world: World) -> None:
    exchange = await fastagi_request(world.server.port, agi_values())
    [command] = exchange.commands
    assert command.startswith('VERBOSE "pbx-sms: call 1700000000.42 handed to the call log: in +48221234567')
    assert command.endswith(" 3")
    await wait_until(lambda: "1700000000.42" in world.rows(), "the call in the call log")
    row = world.rows()["1700000000.42"]
    assert (row["pbx"], row["source"], row["status"], row["talk_s"]) == (PBX, "agi", "answered", 61)
    assert (row["number"], row["other_party"]) == ("+48221234567", "+48602345678")
    assert world.counters() == {"requests": 1, "recorded": 1, "refused": 0, "errors": 0}
    await wait_until(lambda: world.server.active_sessions == 0, "the session to end")


async def test_many_sessions_at_once_each_get_their_call_recorded(world: World) -> None:
    exchanges = await asyncio.gather(
        *(fastagi_request(world.server.port, agi_values(linkedid=f"1700000000.{n}")) for n in range(50))
    )
    assert all(len(exchange.commands) == 1 for exchange in exchanges)
    await wait_until(lambda: len(world.rows()) == 50, "50 calls in the call log")
    assert world.counters() == {"requests": 50, "recorded": 50, "refused": 0, "errors": 0}


# --- hostile and broken peers -----------------------------------------------------------------------


def request_bytes(lines: list[str], end: bytes = b"\n\n") -> bytes:
    return "\n".join(["agi_network: yes", "agi_network_script: pbx-sms-hangup", *lines]).encode() + end


async def assert_still_serving(world: World, linkedid: str = "1700000099.1") -> None:
    exchange = await fastagi_request(world.server.port, agi_values(linkedid=linkedid))
    assert len(exchange.commands) == 1
    await wait_until(lambda: linkedid in world.rows(), "a good call after the bad ones")


async def test_a_hangup_in_the_middle_of_the_request_ends_the_session_without_spinning(world: World) -> None:
    half = request_bytes(environment_lines(agi_values())[:10], end=b"\nagi_chan")
    _reader, writer = await asyncio.open_connection("127.0.0.1", world.server.port)
    writer.write(half)
    await writer.drain()
    writer.close()  # Asterisk's side gone mid-environment: the server's reads now return b""
    await writer.wait_closed()
    await wait_until(lambda: world.counters()["errors"] == 1, "the cut-off session counted")
    await wait_until(lambda: world.server.active_sessions == 0, "the cut-off session to end")
    # A spinning session would starve the loop: a one-millisecond sleep still takes about that.
    started = time.monotonic()
    await asyncio.sleep(0.001)
    assert time.monotonic() - started < 0.5
    await assert_still_serving(world)
    assert world.counters() == {"requests": 2, "recorded": 1, "refused": 0, "errors": 1}


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        (b"x" * (MAX_LINE_BYTES * 3) + b"\n\n", "longer than 8192 bytes"),
        (request_bytes([f"agi_x{n}: {n}" for n in range(1000)]), "more than 200 lines"),
        (bytes(range(256)) * 4 + b"\n\n", "is not 'agi_name: value'"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "is not 'agi_name: value'"),
        (request_bytes(["agi_arg_1: a", "agi_arg_1: b"]), "agi_arg_1 given twice"),
    ],
    ids=["long-line", "many-lines", "binary", "http", "duplicate-argument"],
)
async def test_garbage_is_logged_and_survived(
    world: World, raw: bytes, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pbx_sms.fastagi")
    await fastagi_request(world.server.port, raw=raw)
    await wait_until(lambda: world.counters()["errors"] == 1, "the bad request counted")
    assert logged in caplog.text
    await assert_still_serving(world)
    assert world.counters()["recorded"] == 1


async def test_an_argument_with_a_line_break_cannot_override_an_earlier_one(world: World) -> None:
    # The caller ID "x\nagi_arg_2: out" would, read into a dict, turn an inbound call outbound.
    args = agi_values(did="+48221234567\nagi_arg_2: out")
    exchange = await fastagi_request(world.server.port, args)
    [command] = exchange.commands
    assert "call not recorded: AGI environment line 34: agi_arg_2 given twice" in command
    await wait_until(lambda: world.counters()["errors"] == 1, "the request refused")
    await assert_still_serving(world)
    assert set(world.rows()) == {"1700000099.1"}


async def test_an_oversized_caller_id_is_refused_with_its_size(world: World) -> None:
    exchange = await fastagi_request(world.server.port, agi_values(other_party="6" * 5000))
    [command] = exchange.commands
    assert "other_party is 5000 characters long, more than 256" in command and command.endswith(" 1")
    assert world.counters()["errors"] == 1 and world.rows() == {}


async def test_control_characters_reach_the_asterisk_log_escaped(world: World) -> None:
    exchange = await fastagi_request(world.server.port, agi_values(other_party='Evil\x1b[2J"\\'))
    [command] = exchange.commands
    # As res_agi.c's parse_args reads it back: Evil\x1b[2J"\ (the escape shown, quote and backslash kept).
    assert "\x1b" not in command and 'Evil\\\\x1b[2J\\"\\\\, answered' in command


async def test_a_silent_peer_is_cut_off_after_the_read_timeout(database_url: str) -> None:
    async with running_world(database_url, FastAgiSettings(port=0), read_timeout_s=0.3) as world:
        reader, writer = await asyncio.open_connection("127.0.0.1", world.server.port)
        writer.write(b"agi_network: yes\n")
        await writer.drain()
        async with asyncio.timeout(WAIT_S):
            assert await reader.read() == b""  # closed by the server, not by us
        writer.close()
        assert world.counters() == {"requests": 1, "recorded": 0, "refused": 0, "errors": 1}
        await assert_still_serving(world)


# --- who may report calls ---------------------------------------------------------------------------


async def test_peers_outside_the_allowed_networks_are_refused(database_url: str) -> None:
    settings = FastAgiSettings(host="127.0.0.1", port=0, allow=("127.0.0.2/32",))  # type: ignore[arg-type]
    async with running_world(database_url, settings) as world:
        refused = await fastagi_request(world.server.port, agi_values(linkedid="1.1"), source="127.0.0.1")
        allowed = await fastagi_request(world.server.port, agi_values(linkedid="1.2"), source="127.0.0.2")
        assert refused.commands == [] and len(allowed.commands) == 1
        await wait_until(lambda: "1.2" in world.rows(), "the allowed peer's call")
        assert set(world.rows()) == {"1.2"}
        assert world.counters() == {"requests": 2, "recorded": 1, "refused": 1, "errors": 0}


async def test_with_a_secret_only_requests_carrying_it_are_recorded(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = FastAgiSettings(port=0, secret=SecretStr(SECRET))
    async with running_world(database_url, settings) as world:
        wrong = await fastagi_request(world.server.port, agi_values(linkedid="2.1"), secret=SECRET[:-1] + "X")
        missing = await fastagi_request(world.server.port, agi_values(linkedid="2.2"))
        right = await fastagi_request(world.server.port, agi_values(linkedid="2.3"), secret=SECRET)
        for exchange in (wrong, missing):
            [command] = exchange.commands
            assert "refused: wrong or missing secret" in command
        assert "handed to the call log" in right.commands[0]
        await wait_until(lambda: "2.3" in world.rows(), "the call with the secret")
        assert set(world.rows()) == {"2.3"}
        assert world.counters() == {"requests": 3, "recorded": 1, "refused": 2, "errors": 0}
    assert SECRET not in caplog.text and SECRET[:-1] not in caplog.text


async def test_an_unknown_path_is_not_recorded_nor_shown(world: World, caplog: pytest.LogCaptureFixture) -> None:
    # The secret first, the script name second: the wrong way round.
    exchange = await fastagi_request(world.server.port, agi_values(), script=f"{SECRET}/pbx-sms-hangup")
    [command] = exchange.commands
    assert "the agi:// path is not agi://HOST:PORT/pbx-sms-hangup or .../pbx-sms-hangup/SECRET" in command
    assert world.counters()["errors"] == 1 and world.rows() == {}
    assert SECRET not in command and SECRET not in caplog.text
