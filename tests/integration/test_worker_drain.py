"""A graceful stop lets sends already under way finish and hands back only rows that never started,
so a restart sends nothing twice, even through a gateway with no idempotency of its own."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.model import NewSms
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.worker import OutboxWorker
from pbx_sms.storage.database import open_database


class SlowSerialGateway:
    """One send at a time; the SMS counts as delivered halfway through the request."""

    name = "slow"
    timeout_s = 1.0
    max_concurrency = 1

    def __init__(self) -> None:
        self.started: list[str] = []
        self.delivered: list[str] = []

    async def send(self, sms: OutgoingSms) -> SendResult:
        self.started.append(sms.to)
        await asyncio.sleep(0.3)
        self.delivered.append(sms.to)
        await asyncio.sleep(0.2)
        return SendResult.sent(f"id-{sms.to}")

    async def close(self) -> None:
        return None


async def run_until(outbox: SqlOutbox, gateway: SlowSerialGateway, done: Callable[[], bool]) -> None:
    """Run a worker until ``done()``, then stop it gracefully."""
    worker = OutboxWorker(outbox, gateway, WorkerConfig(poll_s=0.05))
    task = asyncio.create_task(worker.run())
    async with asyncio.timeout(20):
        while not done():
            await asyncio.sleep(0.01)
    worker.stop()
    await asyncio.wait_for(task, 10)


async def test_stop_mid_burst_then_restart_sends_each_sms_once(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'pbx-sms.db'}", timezone="UTC", country="PL")
    try:
        outbox = SqlOutbox(database.engine)
        with database.engine.connect() as conn:
            account_id = conn.execute(text("SELECT id FROM accounts")).scalar_one()
        now = datetime.now(UTC)
        numbers = [f"+4860000000{i}" for i in range(4)]
        outbox.enqueue(
            [
                NewSms(account_id, 1, "r", f"c{i}", number, now, number, "ACME", "hi", "GSM-7", 1, now)
                for i, number in enumerate(numbers)
            ],
            now,
        )
        gateway = SlowSerialGateway()
        await run_until(outbox, gateway, lambda: bool(gateway.started))  # stopped while the first send is under way
        with database.engine.connect() as conn:
            after_stop = dict(
                conn.execute(text("SELECT recipient, attempts FROM outbox WHERE status = 'queued'")).all()
            )
        assert len(gateway.delivered) == 1
        assert len(after_stop) == 3 and set(after_stop.values()) == {0}  # handed back unsent, no attempt used
        await run_until(outbox, gateway, lambda: len(gateway.delivered) == 4)
        assert Counter(gateway.delivered) == Counter(numbers)
    finally:
        database.close()
