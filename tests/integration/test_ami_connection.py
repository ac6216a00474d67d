"""AmiConnection against a real TCP server on loopback: login, keep-alive, reconnect, backoff."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from ami_server import AmiSession, FakeAmiServer
from pydantic import SecretStr

from pbx_sms.ami.connection import AmiConnection, ConnectionConfig, ReconnectBackoff
from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.status import ConnectionState
from pbx_sms.config import AmiSettings, Settings

SECRET = "t0p-s3cret-value"
EVENT = (
    b"Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1795574700.5\r\nChannel: PJSIP/201-00000001\r\n"
    b"Uniqueid: 1.1\r\nLinkedid: 1.1\r\nCause: 16\r\n\r\n"
)
UNWANTED = b"Event: VarSet\r\nPrivilege: dialplan,all\r\nVariable: X\r\nValue: 1\r\n\r\n"


class Always:
    """A random source that always draws the same number."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def make_config(server: FakeAmiServer, **overrides: Any) -> ConnectionConfig:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "username": "pbx-sms",
        "secret": SecretStr(SECRET),
        "ping_interval_s": 5.0,
        "ping_timeout_s": 0.5,
        "reconnect_min_s": 0.02,
        "reconnect_max_s": 0.2,
    }
    values.update(overrides)
    return ConnectionConfig(**values)


class Recorder:
    def __init__(self) -> None:
        self.events: list[AmiMessage] = []
        self.ups = 0
        self.downs: list[str] = []

    def event(self, message: AmiMessage) -> None:
        self.events.append(message)

    def up(self) -> None:
        self.ups += 1

    def down(self, reason: str) -> None:
        self.downs.append(reason)


@asynccontextmanager
async def running(config: ConnectionConfig, **kwargs: Any) -> AsyncIterator[tuple[AmiConnection, Recorder]]:
    recorder = Recorder()
    connection = AmiConnection(
        config,
        recorder.event,
        wanted_events={"Hangup"},
        on_up=recorder.up,
        on_down=recorder.down,
        **kwargs,
    )
    task = asyncio.create_task(connection.run())
    try:
        yield connection, recorder
    finally:
        connection.stop()
        await asyncio.wait_for(task, 5)


async def eventually(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def test_config_from_settings_takes_the_ami_settings() -> None:
    settings = Settings(ami=AmiSettings(host="pbx.example", port=5039, username="u", secret=SecretStr("x")))
    config = ConnectionConfig.from_settings(settings)
    assert (config.host, config.port, config.username, config.secret.get_secret_value()) == (
        "pbx.example",
        5039,
        "u",
        "x",
    )
    assert config.ping_interval_s == settings.ami.ping_interval_s
    assert config.reconnect_max_s == settings.ami.reconnect_max_s


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    low = ReconnectBackoff(1.0, 10.0, rand=Always(0.0))
    high = ReconnectBackoff(1.0, 10.0, rand=Always(1.0))
    assert [low.next_delay_s() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert [high.next_delay_s() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    high.reset()
    assert high.next_delay_s() == 1.0
    real = ReconnectBackoff(0.1, 3.0)
    delays = [real.next_delay_s() for _ in range(12)]
    assert all(0.05 <= d <= 3.0 for d in delays)
    assert all(later >= earlier for earlier, later in itertools.pairwise(delays[:5]))
    assert len(set(delays)) > 1


async def test_login_success_marks_up_and_delivers_only_wanted_events() -> None:
    async def handler(session: AmiSession) -> None:
        await session.send(UNWANTED + EVENT)

    async with (
        FakeAmiServer(secret=SECRET, handler=handler) as server,
        running(make_config(server)) as (connection, recorder),
    ):
        await asyncio.wait_for(connection.wait_up(), 2)
        await eventually(lambda: len(recorder.events) == 1)
        status = connection.status
        assert status.state is ConnectionState.UP
        assert status.connects == 1
        assert status.server_version == "11.0.0"
        assert recorder.ups == 1
        assert recorder.events[0].event == "Hangup"
        assert recorder.events[0].get("Linkedid") == "1.1"
        await eventually(lambda: connection.status.events == 1)
        login = server.sessions[0].actions[0]
        assert login["Action"] == "Login"
        assert (login["Username"], login["Secret"]) == ("pbx-sms", SECRET)
    assert connection.state is ConnectionState.STOPPED


async def test_failed_login_is_logged_once_without_the_secret_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeAmiServer(secret="something-else") as server, running(make_config(server)) as (connection, rec):
        await server.wait_logins(4)
        status = connection.status
        assert status.state in (ConnectionState.DOWN, ConnectionState.CONNECTING)
        assert status.auth_failures >= 3
        assert status.connects == 0
        assert status.last_error is not None
        assert "'pbx-sms'" in status.last_error
        assert f"{server.host}:{server.port}" in status.last_error
        assert "Authentication failed" in status.last_error
        assert rec.ups == 0
        assert rec.downs == []  # never up: no tracker state to drop
    assert not any(attempt.accepted for attempt in server.logins)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "login refused for AMI user 'pbx-sms'" in errors[0].getMessage()
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    assert SECRET not in caplog.text


async def test_reconnects_after_drop_with_growing_backoff() -> None:
    async def drop_at_once(session: AmiSession) -> None:
        await session.drop()

    server = FakeAmiServer(secret=SECRET, handler=drop_at_once)
    async with (
        server,
        running(make_config(server, reconnect_min_s=0.04, reconnect_max_s=0.4), rand=Always(1.0)) as (
            connection,
            recorder,
        ),
    ):
        await server.wait_sessions(6, timeout_s=5)
        await eventually(lambda: len(recorder.downs) >= 5)
    times = [attempt.at_s for attempt in server.logins[:6]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Delays 0.04, 0.08, 0.16, 0.32, then the cap 0.4 (plus connect time).
    expected = [0.04, 0.08, 0.16, 0.32, 0.4]
    for gap, delay in zip(gaps, expected, strict=True):
        assert delay <= gap < delay + 0.15, (gaps, expected)
    assert recorder.ups == 6
    assert all("closed by the server" in reason or "connection lost" in reason for reason in recorder.downs[:5])
    assert connection.status.disconnects >= 5


async def test_backoff_resets_after_a_connection_stayed_up() -> None:
    async def stay_then_drop(session: AmiSession) -> None:
        await asyncio.sleep(0.35 if session.index == 2 else 0.0)
        await session.drop()

    server = FakeAmiServer(secret=SECRET, handler=stay_then_drop)
    async with (
        server,
        running(
            make_config(server, reconnect_min_s=0.05, reconnect_max_s=1.0, ping_interval_s=0.1, ping_timeout_s=0.2),
            rand=Always(1.0),
        ) as (_connection, _recorder),
    ):
        await server.wait_sessions(5, timeout_s=5)
    times = [attempt.at_s for attempt in server.logins[:5]]
    # Session 0 and 1 drop at once: delays 0.05, 0.1.  Session 2 stays up 0.35 s ≥ 0.3 s
    # (ping interval + timeout), so the next delay starts over at 0.05.
    assert 0.05 <= times[1] - times[0] < 0.15
    assert 0.1 <= times[2] - times[1] < 0.2
    assert 0.35 + 0.05 <= times[3] - times[2] < 0.35 + 0.15
    assert 0.1 <= times[4] - times[3] < 0.2


async def test_unanswered_ping_drops_and_reconnects() -> None:
    server = FakeAmiServer(secret=SECRET, answer_ping=False)
    async with server, running(make_config(server, ping_interval_s=0.05, ping_timeout_s=0.1)) as (connection, recorder):
        await server.wait_sessions(2, timeout_s=3)
        await eventually(lambda: len(recorder.downs) >= 1)
        assert "no reply to Ping within 0.1 s" in recorder.downs[0]
        assert server.sessions[0].pings >= 1
        await eventually(lambda: connection.state is ConnectionState.UP)
        assert connection.status.connects == 2


async def test_answered_pings_keep_the_connection_up() -> None:
    server = FakeAmiServer(secret=SECRET)
    async with server, running(make_config(server, ping_interval_s=0.03, ping_timeout_s=0.2)) as (connection, recorder):
        await server.wait_sessions(1)
        await eventually(lambda: server.sessions[0].pings >= 5)
        assert connection.state is ConnectionState.UP
        assert recorder.downs == []
        assert len(server.sessions) == 1


async def test_unanswered_login_times_out_and_is_retried() -> None:
    server = FakeAmiServer(secret=SECRET, answer_login=False)
    async with server, running(make_config(server, ping_timeout_s=0.1)) as (connection, _recorder):
        await eventually(lambda: server.connections >= 2)
        assert connection.status.last_error is not None
        assert "no reply to Login within 0.1 s" in connection.status.last_error
        assert connection.status.connects == 0


async def test_unreachable_server_is_retried_with_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pbx_sms.ami.connection")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    server = FakeAmiServer(secret=SECRET)
    config = make_config(server, port=free_port, reconnect_min_s=0.01, reconnect_max_s=0.02)
    async with running(config) as (connection, _recorder):
        await eventually(lambda: connection.status.failed_attempts >= 10)
        assert connection.status.last_error is not None
        assert f"cannot connect to 127.0.0.1:{free_port}" in connection.status.last_error
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "cannot connect" in r.getMessage()]
    assert len(warnings) == 1  # the same failure at full speed is not logged again and again


async def test_shutdown_event_drops_the_connection() -> None:
    async def announce_shutdown(session: AmiSession) -> None:
        if session.index == 0:
            await session.send(
                b"Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\nRestart: True\r\n\r\n"
            )

    server = FakeAmiServer(secret=SECRET, handler=announce_shutdown)
    async with server, running(make_config(server)) as (connection, recorder):
        await server.wait_sessions(2)
        await eventually(lambda: connection.state is ConnectionState.UP and len(recorder.downs) == 1)
        assert "Shutdown" in recorder.downs[0]


async def test_stop_logs_off_and_reports_stopping() -> None:
    server = FakeAmiServer(secret=SECRET)
    async with server:
        recorder = Recorder()
        connection = AmiConnection(make_config(server), recorder.event, on_down=recorder.down)
        task = asyncio.create_task(connection.run())
        await asyncio.wait_for(connection.wait_up(), 2)
        connection.stop()
        await asyncio.wait_for(task, 2)
        await asyncio.wait_for(server.sessions[0].wait_closed(), 2)
        assert [a["Action"] for a in server.sessions[0].actions] == ["Login", "Logoff"]
        assert recorder.downs == ["listener stopping"]
        assert connection.state is ConnectionState.STOPPED
        assert connection.status.to_json()["state"] == "stopped"


async def test_down_since_counts_from_the_last_time_it_was_up_not_from_each_reconnect_attempt() -> None:
    """What /health judges: failed attempts (CONNECTING → DOWN → CONNECTING ...) keep the first time it went down."""
    clock_s = [1000.0]
    sessions: list[AmiSession] = []

    async def handler(session: AmiSession) -> None:
        sessions.append(session)
        await asyncio.sleep(3600)

    server = await FakeAmiServer(secret=SECRET, handler=handler).start()
    async with running(make_config(server), clock=lambda: clock_s[0]) as (connection, recorder):
        await asyncio.wait_for(connection.wait_up(), 5)
        assert connection.status.down_since is None
        clock_s[0] = 2000.0
        await server.close()  # Asterisk goes away: every reconnect attempt fails from now on
        await eventually(lambda: recorder.downs != [])
        await eventually(lambda: connection.status.failed_attempts >= 3)
        clock_s[0] = 3000.0
        await eventually(lambda: connection.status.failed_attempts >= 5)
        status = connection.status
        assert status.state is not ConnectionState.UP
        assert status.down_since == 2000.0
