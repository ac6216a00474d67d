#!/usr/bin/env python
"""Log volume of the outbox worker during a PostgreSQL outage (issue 14: 142k lines, 9.6 MB in 30 s).

The worker runs on a fresh schema (PBX_SMS_TEST_POSTGRES_URL) reached through a loopback TCP proxy
(tests/tcp_proxy.py); SMS are being sent (each send takes 0.5 s, so outcomes are waiting to be
written) when the proxy is cut for --outage-s seconds, more fall due meanwhile. Every log line is
written by the daemon's handler (pbx_sms.logs, text format) into memory; the table gives the lines
and bytes logged during the outage and until every SMS is sent, and how long after the database came
back the last SMS went out.

    .venv/bin/python bench/worker_outage.py
    .venv/bin/python bench/worker_outage.py --outage-s 10
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from benchlib import machine, print_table
from outbox_world import sms, sql_world
from tcp_proxy import TcpProxy

from pbx_sms.core.sms_status import Status
from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.logs import TEXT_FORMAT
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.worker import OutboxWorker

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class SlowGateway:
    name = "slow"
    timeout_s = 5.0

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def send(self, sms: OutgoingSms) -> SendResult:
        await asyncio.sleep(0.5)
        self.keys.append(sms.idempotency_key)
        return SendResult.sent(sms.idempotency_key)

    async def close(self) -> None:
        pass


def daemon_handler(stream: io.StringIO) -> logging.Handler:
    try:  # the daemon's own handler (secrets redacted), where it exists
        from pbx_sms.logs import log_handler
    except ImportError:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
        return handler
    return log_handler(stream, "text")


async def run(url: str, outage_s: float, count: int) -> list[str]:
    target = make_url(url)
    stream = io.StringIO()
    root = logging.getLogger()
    root.handlers[:] = [daemon_handler(stream)]
    root.setLevel(logging.INFO)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with sql_world(proxied) as world:
            account = world.account()
            now = datetime.now(UTC)
            world.store.enqueue([sms(account, to=f"+486010{i:05d}", due_at=now) for i in range(count)], now)
            due_later = now + timedelta(seconds=outage_s / 2)
            world.store.enqueue([sms(account, to=f"+486020{i:05d}", due_at=due_later) for i in range(count)], now)
            gateway = SlowGateway()
            worker = OutboxWorker(world.store, gateway, WorkerConfig())
            task = asyncio.create_task(worker.run())
            while worker.counters.claimed < count:
                await asyncio.sleep(0.01)
            proxy.cut()
            start_lines, start_bytes = stream.getvalue().count("\n"), len(stream.getvalue())
            await asyncio.sleep(outage_s)
            proxy.restore()
            back = time.monotonic()
            while len(world.store.list(statuses=[Status.SENT])) < 2 * count:
                await asyncio.sleep(0.05)
            last_sent_s = time.monotonic() - back
            text = stream.getvalue()
            lines, size = text.count("\n") - start_lines, len(text) - start_bytes
            tracebacks = text.count("Traceback (most recent call last)")
            per_sms = text[start_bytes:].count(" sent via ")
            worker.stop()
            await asyncio.wait_for(task, 30)
    root.handlers.clear()
    return [
        f"{outage_s:g} s",
        f"{lines:,}",
        f"{lines - per_sms:,}",
        f"{size / 1e6:.3f} MB",
        f"{tracebacks:,}",
        f"{last_sent_s:.1f} s",
        f"{len(gateway.keys) - len(set(gateway.keys))}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage-s", type=float, default=30.0)
    parser.add_argument("--sms", type=int, default=20, help="SMS being sent at the cut (as many fall due during it)")
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        row = asyncio.run(run(url.render_as_string(hide_password=False), args.outage_s, args.sms))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(machine())
    print_table(
        "outbox worker, PostgreSQL cut",
        ["outage", "log lines", "not 'SMS sent'", "log bytes", "tracebacks", "all sent after it ended", "sent twice"],
        [row],
    )


if __name__ == "__main__":
    main()
