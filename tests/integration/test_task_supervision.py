"""No background task dies silently: a failure injected into each kind of task of the daemon and of the
AMI listener is logged and counted, and the task restarted, or the daemon stops with exit 1 and one
clear line.  And the failure that started it: a Timestamp in year 10000 through the live listener."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from ami_server import FakeAmiServer, load_recording_events, move_to_now, replay
from daemon_ports import free_port_sections
from paths import FIXTURES
from pydantic import SecretStr

from pbx_sms.ami.connection import ConnectionConfig
from pbx_sms.ami.listener import AmiListener
from pbx_sms.ami.tracker import CallTracker, TrackerConfig
from pbx_sms.config import AmiSettings, Settings
from pbx_sms.core.call import CompletedCall
from pbx_sms.daemon.run import Daemon
from pbx_sms.tasks import RestartPolicy, TaskFailed, TaskSupervisor

TIMEOUT_S = 20.0
FAST = RestartPolicy(restart_delay_s=0.01, max_restart_delay_s=0.01, max_failures=3)


def fail_once(run: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    failed: list[bool] = []

    async def wrapper() -> Any:
        if not failed:
            failed.append(True)
            raise RuntimeError("injected failure")
        return await run()

    return wrapper


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


def daemon_settings(tmp_path: Path, ami: AmiSettings | None = None) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'pbx-sms.db'}",
        ami=ami or AmiSettings(enabled=False),
        **free_port_sections(),
    )


# ---- the daemon's tasks -------------------------------------------------------------------------

RESTARTED = {
    "call-recorder": lambda daemon: (daemon.recorder, "run"),
    "call-processing": lambda daemon: (daemon, "_process_recorded_calls"),
    "heartbeat": lambda daemon: (daemon, "_heartbeat"),
}


@pytest.mark.parametrize("task", sorted(RESTARTED))
def test_a_daemon_task_that_fails_is_logged_counted_and_restarted(
    task: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(daemon_settings(tmp_path))
    daemon.supervisor.policy = FAST
    owner, name = RESTARTED[task](daemon)
    setattr(owner, name, fail_once(getattr(owner, name)))

    async def main() -> None:
        running = asyncio.create_task(daemon.run())
        await wait_until(lambda: daemon.supervisor.restarts.get(task) == 1, f"{task} restarted")
        daemon.stop()
        await asyncio.wait_for(running, TIMEOUT_S)

    with caplog.at_level(logging.ERROR, "pbx_sms.tasks"):
        asyncio.run(main())
    assert daemon.status_details()["tasks"] == {task: {"failures": 1, "restarts": 1}}
    assert f"background task {task} failed (RuntimeError: injected failure); restarting it" in caplog.text


@pytest.mark.parametrize("task", ["outbox-worker", "ami-listener"])
def test_a_daemon_task_not_safe_to_restart_stops_the_daemon_with_its_error(task: str, tmp_path: Path) -> None:
    # The AMI side enabled (for the listener), towards a port where nothing listens.
    daemon = Daemon(daemon_settings(tmp_path, ami=AmiSettings(host="127.0.0.1", port=1)))
    owner = daemon.worker if task == "outbox-worker" else daemon.listener
    owner.run = fail_once(owner.run)  # type: ignore[method-assign]

    with pytest.raises(TaskFailed) as raised:
        asyncio.run(asyncio.wait_for(daemon.run(), TIMEOUT_S))
    assert str(raised.value) == f"background task {task} failed: RuntimeError: injected failure"
    assert daemon.status_details()["tasks"][task] == {"failures": 1, "restarts": 0}


INJECT_AND_RUN = """
import sys
from pbx_sms.outbox.worker import OutboxWorker
async def broken(self):
    raise RuntimeError("injected failure")
OutboxWorker.run = broken
from pbx_sms.cli.main import app
sys.argv = ["pbx-sms", "run"]
app()
"""


def test_pbx_sms_run_exits_1_with_one_clear_line_when_a_task_fails_for_good(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'pbx-sms.db'}",
        "PBX_SMS_AMI_ENABLED": "false",
        # Not the default ports, which a daemon running on this machine may hold.
        "PBX_SMS_METRICS_ENABLED": "false",
        "PBX_SMS_FASTAGI_PORT": "0",
    }
    env.pop("PBX_SMS_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", INJECT_AND_RUN], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert lines[-1] == "error: background task outbox-worker failed: RuntimeError: injected failure"
    # The traceback is logged once, when the task fails (for its bug report), never again at exit.
    assert done.stderr.count("Traceback") == 1, done.stderr
    assert "pbx-sms stopped" in done.stderr


# ---- the AMI listener's tasks -------------------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.items: list[CompletedCall] = []

    async def __call__(self, call: CompletedCall) -> None:
        self.items.append(call)


def config_for(server: FakeAmiServer) -> ConnectionConfig:
    return ConnectionConfig(server.host, server.port, "pbx-sms", SecretStr("s3cret"), ping_interval_s=30.0)


def answered_call_now() -> tuple[list[bytes], float]:
    return move_to_now(load_recording_events(FIXTURES / "in_answered.callcdr.ami"))


def test_the_grace_timer_failing_is_restarted_and_still_emits_the_call(caplog: pytest.LogCaptureFixture) -> None:
    blocks, _ = answered_call_now()
    calls = Calls()

    async def main() -> AmiListener:
        async with FakeAmiServer(handler=replay(blocks)) as server:
            # A grace long enough for the test to arm the failure once every event is in.
            tracker = CallTracker(TrackerConfig(cdr_grace_s=2.0))
            listener = AmiListener(
                config_for(server), tracker, calls, supervisor=TaskSupervisor(lambda failure: None, FAST)
            )
            real_tick = tracker.tick
            armed: list[bool] = []

            def tick(now_s: float) -> list[CompletedCall]:
                if armed == [True]:  # once every event is in, only the timer ticks: its first tick fails
                    armed.append(False)
                    raise RuntimeError("injected failure")
                return real_tick(now_s)

            tracker.tick = tick  # type: ignore[method-assign]
            running = asyncio.create_task(listener.run())
            try:
                status = listener.connection
                await wait_until(
                    lambda: status.status.events + status.status.skipped_events == len(blocks), "every event"
                )
                assert calls.items == []
                armed.append(True)
                await wait_until(lambda: len(calls.items) == 1, "the call, emitted by the restarted timer")
            finally:
                listener.stop()
                await asyncio.wait_for(running, TIMEOUT_S)
            return listener

    with caplog.at_level(logging.ERROR, "pbx_sms.tasks"):
        listener = asyncio.run(main())
    assert listener.supervisor.counters() == {"ami-tracker-timer": {"failures": 1, "restarts": 1}}
    assert "background task ami-tracker-timer failed (RuntimeError: injected failure)" in caplog.text


def test_the_call_delivery_failing_is_restarted() -> None:
    blocks, _ = answered_call_now()
    calls = Calls()

    async def main() -> AmiListener:
        async with FakeAmiServer(handler=replay(blocks)) as server:
            listener = AmiListener(
                config_for(server),
                CallTracker(TrackerConfig(cdr_grace_s=0.05)),
                calls,
                supervisor=TaskSupervisor(lambda failure: None, FAST),
            )
            listener._deliver = fail_once(listener._deliver)  # type: ignore[method-assign]
            running = asyncio.create_task(listener.run())
            try:
                await wait_until(lambda: len(calls.items) == 1, "the call, delivered by the restarted task")
            finally:
                listener.stop()
                await asyncio.wait_for(running, TIMEOUT_S)
            return listener

    listener = asyncio.run(main())
    assert listener.supervisor.counters() == {"ami-call-delivery": {"failures": 1, "restarts": 1}}


def test_a_listener_whose_task_fails_for_good_stops_and_raises() -> None:
    async def main() -> None:
        async with FakeAmiServer() as server:
            listener = AmiListener(config_for(server), CallTracker(TrackerConfig()), Calls())
            listener.supervisor.policy = RestartPolicy(restart_delay_s=0.01, max_restart_delay_s=0.01, max_failures=2)

            async def broken_timer() -> None:
                raise RuntimeError("always")

            listener._run_timer = broken_timer  # type: ignore[method-assign]
            await asyncio.wait_for(listener.run(), TIMEOUT_S)

    expected = "background task ami-tracker-timer failed (2 failures in a row): RuntimeError: always"
    with pytest.raises(TaskFailed, match=re.escape(expected)):
        asyncio.run(main())


def test_a_year_10000_timestamp_through_the_live_listener_loses_no_call(caplog: pytest.LogCaptureFixture) -> None:
    blocks, _ = answered_call_now()
    # The last event that dates the call's end (its last Hangup) says year 10000.
    last_hangup = max(i for i, block in enumerate(blocks) if block.startswith(b"Event: Hangup"))
    head, _, tail = blocks[last_hangup].partition(b"Timestamp: ")
    blocks[last_hangup] = head + b"Timestamp: 253402300800.000000" + tail[tail.index(b"\r\n") :]
    calls = Calls()

    async def main() -> AmiListener:
        async with FakeAmiServer(handler=replay(blocks)) as server:
            listener = AmiListener(config_for(server), CallTracker(TrackerConfig(cdr_grace_s=0.05)), calls)
            running = asyncio.create_task(listener.run())
            try:
                await wait_until(lambda: len(calls.items) == 1, "the call, emitted by the grace timer")
            finally:
                listener.stop()
                await asyncio.wait_for(running, TIMEOUT_S)
            return listener

    with caplog.at_level(logging.WARNING):
        listener = asyncio.run(main())
    assert listener.status.bad_timestamps == 1
    assert listener.supervisor.counters() == {}
    assert abs(calls.items[0].ended_at.timestamp() - time.time()) < 60  # dated at its receipt
