"""The outbox worker while its PostgreSQL goes away for real (a TCP proxy cut) and comes back.

Before: every try failed at once and was logged with a traceback, the flusher's every 20 ms (142k
lines in 30 s). Now the tries back off and the outage is logged when it starts, once per report
interval while it lasts (1 s here instead of a minute) and when it ends; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from outbox_world import sms, sql_world
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from pbx_sms.core.sms_status import Status
from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.worker import OutboxWorker

OUTAGE_S = 4.0


class SlowGateway:
    """Each send takes ``delay_s``: outcomes arrive while the database is away."""

    name = "slow"
    timeout_s = 1.0

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.sent: list[OutgoingSms] = []

    async def send(self, sms: OutgoingSms) -> SendResult:
        await asyncio.sleep(self.delay_s)
        self.sent.append(sms)
        return SendResult.sent(f"s-{len(self.sent)}")

    async def close(self) -> None:
        pass


async def wait_for(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_outage_is_logged_when_it_starts_each_interval_and_when_it_ends(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    target = make_url(database_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with sql_world(proxied) as world:
            account = world.account()
            start = datetime.now(UTC)
            # Five being sent when the database goes; five due while it is away.
            world.store.enqueue([sms(account, to=f"+4860100010{i}", due_at=start) for i in range(5)], start)
            later = start + timedelta(seconds=2)
            world.store.enqueue([sms(account, to=f"+4860100020{i}", due_at=later) for i in range(5)], start)
            gateway = SlowGateway(delay_s=0.5)
            # Leases (2 s) run out during the outage: their rows must not be claimed and sent again
            # before their outcomes are written.
            config = WorkerConfig(poll_s=0.2, lease_s=2.0)
            worker = OutboxWorker(world.store, gateway, config, outage_report_s=1.0)
            caplog.set_level(logging.DEBUG, logger="pbx_sms.outbox.worker")
            task = asyncio.create_task(worker.run())
            try:
                await wait_for(lambda: worker.counters.claimed >= 5, 10, "the first claims")
                proxy.cut()
                cut_at = time.monotonic()
                await asyncio.sleep(OUTAGE_S)
                proxy.restore()
                outage_lines = [r for r in caplog.records if r.name == "pbx_sms.outbox.worker"]
                await wait_for(lambda: len(world.store.list(statuses=[Status.SENT])) == 10, 30, "all 10 sent")
                recovered_s = time.monotonic() - cut_at - OUTAGE_S
            finally:
                worker.stop()
                await asyncio.wait_for(task, 15)
    lines = [r for r in caplog.records if r.name == "pbx_sms.outbox.worker" and r.levelno >= logging.WARNING]
    messages = [r.getMessage() for r in lines]
    assert all(r.exc_info is None for r in lines), "no traceback for an outage"
    started = [m for m in messages if "database unreachable" in m]
    ongoing = [m for m in messages if "database still failing" in m]
    ended = [m for m in messages if "database back after" in m]
    # Claims and outcome writes report apart: one start and one end each, at most.
    assert 1 <= len(started) <= 2 and 1 <= len(ended) <= 2, messages
    # Once per second of the 4 s outage, at most, per kind (only when a try fails, so maybe fewer).
    assert 1 <= len(ongoing) <= 2 * OUTAGE_S, messages
    assert len(messages) == len(started) + len(ongoing) + len(ended), messages
    assert len([r for r in outage_lines if r.levelno >= logging.WARNING]) <= len(messages)
    # Backoff capped: the SMS go soon after the database is back, every one sent once.
    assert recovered_s < 15, recovered_s
    keys = [s.idempotency_key for s in gateway.sent]
    assert len(keys) == len(set(keys)) == 10, "each SMS sent once"
    assert worker.counters.write_errors >= 1
