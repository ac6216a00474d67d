"""TaskSupervisor: a failing background task is logged, counted and restarted, or reported fatal once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pbx_sms.tasks import RestartPolicy, TaskFailed, TaskSupervisor

FAST = RestartPolicy(restart_delay_s=0.001, max_restart_delay_s=0.001, max_failures=3, failure_window_s=60)


def failing(times: int, runs: list[int]):  # type: ignore[no-untyped-def]
    async def run() -> None:
        runs.append(len(runs))
        if len(runs) <= times:
            raise RuntimeError(f"boom {len(runs)}")

    return run


def test_a_failing_task_is_logged_counted_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    fatal: list[TaskFailed] = []
    supervisor = TaskSupervisor(fatal.append, FAST)
    runs: list[int] = []

    async def main() -> None:
        await supervisor.start("heartbeat", failing(2, runs))

    with caplog.at_level(logging.ERROR, "pbx_sms.tasks"):
        asyncio.run(main())
    assert len(runs) == 3  # two failures, then it ran to its end
    assert supervisor.counters() == {"heartbeat": {"failures": 2, "restarts": 2}}
    assert fatal == []
    assert "background task heartbeat failed (RuntimeError: boom 1); restarting it" in caplog.text
    assert "Traceback" in caplog.text  # the first sign of a bug: with where it happened


def test_a_task_failing_again_and_again_becomes_fatal(caplog: pytest.LogCaptureFixture) -> None:
    fatal: list[TaskFailed] = []
    supervisor = TaskSupervisor(fatal.append, FAST)
    runs: list[int] = []

    async def main() -> None:
        await supervisor.start("call-recorder", failing(100, runs))

    with caplog.at_level(logging.ERROR, "pbx_sms.tasks"):
        asyncio.run(main())
    assert len(runs) == 3
    assert [str(failure) for failure in fatal] == [
        "background task call-recorder failed (3 failures in a row): RuntimeError: boom 3"
    ]
    assert supervisor.fatal is fatal[0]
    assert "CRITICAL" in caplog.text


def test_a_task_not_to_be_restarted_is_fatal_at_its_first_failure() -> None:
    fatal: list[TaskFailed] = []
    supervisor = TaskSupervisor(fatal.append, FAST)
    runs: list[int] = []

    async def main() -> None:
        await supervisor.start("outbox-worker", failing(1, runs), restart=False)

    asyncio.run(main())
    assert len(runs) == 1
    assert str(fatal[0]) == "background task outbox-worker failed: RuntimeError: boom 1"
    assert supervisor.counters() == {"outbox-worker": {"failures": 1, "restarts": 0}}


def test_failures_far_apart_do_not_add_up_to_a_fatal_one() -> None:
    now_s = [0.0]
    fatal: list[TaskFailed] = []
    supervisor = TaskSupervisor(fatal.append, FAST, clock=lambda: now_s[0])
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)
        now_s[0] += 100.0  # each failure 100 s after the one before: at most one in the 60 s window
        if len(runs) <= 10:
            raise RuntimeError("once in a while")

    async def main() -> None:
        await supervisor.start("heartbeat", run)

    asyncio.run(main())
    assert (len(runs), fatal) == (11, [])


def test_cancelling_a_supervised_task_is_no_failure() -> None:
    fatal: list[TaskFailed] = []
    supervisor = TaskSupervisor(fatal.append, FAST)

    async def main() -> None:
        task = supervisor.start("timer", lambda: asyncio.sleep(3600))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert (supervisor.counters(), fatal) == ({}, [])
