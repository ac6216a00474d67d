"""The worker with attempts whose outcome is unclear, against the loopback HTTP server, on the in-memory
twin, SQLite and PostgreSQL: an unclear attempt keeps counting toward the daily cap, and an attempt cut
short by an abort is held for an operator by a gateway that cannot tell whether it went out."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

import pytest
from http_server import HANG, LoopbackHttpServer, Recorded, Reply
from outbox_world import MemoryWorld, SqlWorld, sms, sql_world

from integration.test_worker import Running, _shifted_clock, eventually, now
from pbx_sms.core.sms_status import Status
from pbx_sms.gateways.http import HttpGateway
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.decisions import AccountLimits
from pbx_sms.outbox.retry import RetryPolicy
from pbx_sms.outbox.worker import OutboxWorker

World = MemoryWorld | SqlWorld
CAP = 10
HANGING = 5
SECOND_WAVE = timedelta(seconds=1.2)
SLOW_RETRY = RetryPolicy(base_delay_s=5.0, max_delay_s=5.0, max_attempts=10, max_age_s=60)


class FirstRequestsHang:
    """The first ``count`` SMS (by key) get no answer on their first attempt; every other request is
    answered 200 with a message id."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: Recorded) -> Reply | str:
        key = request.json["id"]
        with self._lock:
            first_time = key not in self._seen
            self._seen.add(key)
            hang = first_time and len(self._seen) <= self._count
        return HANG if hang else Reply(200, f'{{"id": "m-{key[:8]}"}}'.encode())


@pytest.fixture
def server() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer() as running:
        yield running


def settled(world: World) -> bool:
    return not world.store.list(statuses=[Status.QUEUED, Status.SENDING, Status.UNCLEAR])


class UnclearWorkerBehaviour:
    async def test_a_cap_of_10_with_5_hanging_requests_lets_10_sms_reach_the_provider(
        self, world: World, server: LoopbackHttpServer
    ) -> None:
        account = world.account(AccountLimits(daily_cap=CAP))
        start = now()
        # Ten SMS due now (the first five requests get no answer), ten more once those have timed out.
        first_wave = [sms(account, to=f"+4860100{number:04d}", due_at=start) for number in range(CAP)]
        second_wave = [sms(account, to=f"+4860200{number:04d}", due_at=start + SECOND_WAVE) for number in range(CAP)]
        world.store.enqueue(first_wave + second_wave, start)
        server.respond_with(FirstRequestsHang(HANGING))
        gateway = HttpGateway(server.url, timeout_s=0.5)
        # The retries of the unclear attempts come after the second wave (seeded: 3.1 to 4.7 s).
        config = WorkerConfig(poll_s=0.05, retry=SLOW_RETRY)
        try:
            async with Running(OutboxWorker(world.store, gateway, config, rng=random.Random(5))):
                await eventually(lambda: settled(world), timeout_s=30, what="every SMS sent or suppressed")
        finally:
            await gateway.close()
        at_provider = {request.json["id"] for request in server.requests}
        print(
            f"\ncap {CAP}, {HANGING} hanging: {len(at_provider)} SMS at the provider, {len(server.requests)} requests"
        )
        # Before: the 5 unclear attempts went back to queued and stopped counting, so 5 of the second wave
        # went out too (15 SMS at the provider) and the 5 retries were suppressed by the cap.
        assert len(at_provider) == CAP
        assert len(world.store.list(statuses=[Status.SENT])) == CAP
        assert len(world.store.list(statuses=[Status.SUPPRESSED])) == CAP

    async def test_an_attempt_cut_short_by_an_abort_is_held_unclear_by_a_webhook(
        self, world: World, server: LoopbackHttpServer
    ) -> None:
        account = world.account()
        world.store.enqueue([sms(account, due_at=now())], now())
        server.hang()
        hanging = HttpGateway(server.url, timeout_s=5)
        worker = OutboxWorker(world.store, hanging, WorkerConfig(lease_s=6.0))
        task = asyncio.create_task(worker.run())
        await eventually(lambda: len(server.requests) == 1, what="the first request")
        worker.abort()
        with pytest.raises(asyncio.CancelledError):
            await task
        await hanging.close()
        server.reset()
        # The default http gateway (resend_after_crash false) after the lease ran out.
        second_gateway = HttpGateway(server.url, timeout_s=0.5)
        later = partial(_shifted_clock, 7.0)
        try:
            async with Running(OutboxWorker(world.store, second_gateway, WorkerConfig(poll_s=0.05), clock=later)):
                await eventually(lambda: bool(world.store.list(statuses=[Status.UNCLEAR])), what="held unclear")
                await asyncio.sleep(0.3)
        finally:
            await second_gateway.close()
        [row] = world.store.list()
        assert row.status is Status.UNCLEAR and row.reason and "outbox retry" in row.reason
        assert len(server.requests) == 1, "before: sent a second time after the crash"


class TestUnclearWorkerInMemory(UnclearWorkerBehaviour):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


class TestUnclearWorkerOnDatabase(UnclearWorkerBehaviour):
    @pytest.fixture
    def world(self, database_url: str) -> Iterator[SqlWorld]:
        with sql_world(database_url) as world:
            yield world
