"""The outbox worker and quiet hours: a gateway outage that drifts into the night sends nothing until
the morning, on the in-memory twin, SQLite and PostgreSQL (the worker's clock is the test's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from outbox_world import MemoryWorld, SqlWorld, sms, sql_world

from integration.test_quiet_hours_outbox import quiet_account
from pbx_sms.core.sms_status import Status
from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.retry import RetryPolicy
from pbx_sms.outbox.worker import OutboxWorker

World = MemoryWorld | SqlWorld
JUST_BEFORE = datetime(2026, 3, 10, 19, 59, 59, tzinfo=UTC)  # 20:59:59 in Warsaw
NIGHT = datetime(2026, 3, 10, 20, 0, 5, tzinfo=UTC)  # 21:00:05
MORNING = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)  # 08:00


class DownThenUpGateway:
    """Transient failures while ``down``; records every call with the worker's clock at that moment."""

    name = "flaky"
    timeout_s = 2.0

    def __init__(self, clock: list[datetime]) -> None:
        self.down = True
        self.calls: list[tuple[datetime, bool]] = []
        self._clock = clock

    async def send(self, sms: OutgoingSms) -> SendResult:
        self.calls.append((self._clock[0], self.down))
        return SendResult.transient("HTTP 503: down") if self.down else SendResult.sent("m-1")

    async def close(self) -> None:
        pass


async def until(predicate, what: str, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
def memory_world() -> MemoryWorld:
    return MemoryWorld()


@pytest.fixture
def sql_database_world(database_url: str) -> Iterator[SqlWorld]:
    with sql_world(database_url) as world:
        yield world


async def test_memory_outbox(memory_world: MemoryWorld) -> None:
    await a_retry_that_drifts_into_quiet_hours_waits_for_the_morning(memory_world)


async def test_sql_outbox(sql_database_world: SqlWorld) -> None:
    await a_retry_that_drifts_into_quiet_hours_waits_for_the_morning(sql_database_world)


async def a_retry_that_drifts_into_quiet_hours_waits_for_the_morning(world: World) -> None:
    clock = [JUST_BEFORE]
    account = quiet_account(world)
    [row_id] = world.store.enqueue([sms(account, due_at=JUST_BEFORE)], JUST_BEFORE).queued
    gateway = DownThenUpGateway(clock)
    config = WorkerConfig(
        poll_s=0.05,
        retry=RetryPolicy(base_delay_s=0.001, max_delay_s=0.001, max_attempts=1000, max_age_s=7 * 86400),
    )
    worker = OutboxWorker(world.store, gateway, config, clock=lambda: clock[0])
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: len(gateway.calls) >= 1, "the first (failed) send")
        clock[0] = NIGHT  # the retry falls in the night
        await until(lambda: (row := world.store.get(row_id)) is not None and row.due_at == MORNING, "the hold")
        attempts_at_night = len(gateway.calls)
        await asyncio.sleep(0.3)  # several worker rounds at 21:00:05
        assert len(gateway.calls) == attempts_at_night
        row = world.store.get(row_id)
        assert row is not None
        assert (row.status, row.attempts) == (Status.QUEUED, attempts_at_night)
        assert row.note is not None and "quiet hours 21:00-08:00" in row.note

        gateway.down = False
        clock[0] = MORNING
        await until(lambda: (row := world.store.get(row_id)) is not None and row.status is Status.SENT, "the send")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)
    assert all(at < NIGHT or at >= MORNING for at, _ in gateway.calls)
    assert gateway.calls[-1] == (MORNING, False)
    sent = world.store.get(row_id)
    assert sent is not None and sent.attempts == attempts_at_night + 1
