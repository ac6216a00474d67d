#!/usr/bin/env python
"""Metrics benchmark: what one Prometheus scrape of the daemon costs, by outbox size.

Per database (SQLite in a temp dir, PostgreSQL as PBX_SMS_TEST_POSTGRES_URL) and outbox size (rows in
mixed states and reasons, as the SMS log keeps them until pruned):
  1. the outbox look-up alone (open SMS by status; SMS of the last 24 h by final status and reason kind),
     median and max, with the rows' creation times spread over 30 days;
  2. a whole GET /metrics over loopback HTTP from the daemon's endpoint (query + collector + exposition);
and, without a database, the worker's observer per send attempt (two histograms, maybe a counter).

    .venv/bin/python bench/metrics.py                      # 10,000 and 100,000 rows, both databases
    .venv/bin/python bench/metrics.py --rows 1000000 --postgres ''
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))
from record import databases

from pbx_sms.config import load_settings
from pbx_sms.daemon.metrics import SendMetrics
from pbx_sms.daemon.probes import outbox_counts
from pbx_sms.daemon.run import Daemon
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.outbox.model import Sent
from pbx_sms.outbox.observe import SendAttempt
from pbx_sms.storage.database import open_database

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STATES = [
    ("sent", None),
    ("sent", None),
    ("sent", None),
    ("suppressed", "min_interval"),
    ("suppressed", "daily_cap_reached"),
    ("suppressed", "landline"),
    ("cancelled", "reached_person"),
    ("failed", "permanent: invalid number"),
    ("failed", "gave up after 10 attempts: timeout"),
    ("queued", None),
]


def fill(url: str, rows: int, start: int) -> None:
    database = open_database(url)
    now = datetime.now(UTC)
    try:
        batch = []
        for number in range(start, start + rows):
            status, reason = STATES[number % len(STATES)]
            batch.append(
                {
                    "idempotency_key": str(uuid.uuid4()),
                    "account_id": 1,
                    "rule_id": number % 50,
                    "rule_name": f"rule {number % 50}",
                    "pbx": "bench",
                    "local_to_pbx": False,
                    "call_id": f"{number}.1",
                    "other_party": f"+48600{number:06d}",
                    "call_ended_at": now,
                    "recipient": f"+48600{number:06d}",
                    "sender": "ACME",
                    "text": "Missed call",
                    "encoding": "gsm7",
                    "parts": 1,
                    "to_other_party": True,
                    "min_interval_s": 0,
                    "cancel_on_reach": False,
                    "status": status,
                    "reason": reason,
                    "scheduled_at": now,
                    "due_at": now + timedelta(hours=1),
                    "attempts": 1,
                    # Spread over a month of SMS log: the final-status counts look at the last day only.
                    "created_at": now - timedelta(minutes=number % (30 * 24 * 60)),
                    "updated_at": now,
                }
            )
            if len(batch) == 10_000:
                with database.engine.begin() as conn:
                    conn.execute(insert(outbox_table), batch)
                batch = []
        if batch:
            with database.engine.begin() as conn:
                conn.execute(insert(outbox_table), batch)
    finally:
        database.close()


async def scrape_times(url: str, repeats: int) -> tuple[list[float], list[float]]:
    settings = load_settings(None, {"PBX_SMS_DATABASE_URL": url, "PBX_SMS_METRICS_PORT": "19555"})
    daemon = Daemon(settings)
    assert daemon.endpoint is not None
    await daemon.endpoint.start()
    query_ms, scrape_ms = [], []
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(repeats):
                started = time.perf_counter()
                await asyncio.to_thread(outbox_counts, daemon.database.engine, datetime.now(UTC))
                query_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                async with session.get(f"http://127.0.0.1:{daemon.endpoint.port}/metrics") as response:
                    assert response.status == 200
                    await response.read()
                scrape_ms.append((time.perf_counter() - started) * 1000)
    finally:
        await daemon.endpoint.close()
        daemon.database.close()
    return query_ms, scrape_ms


def observer_us(count: int) -> float:
    observe = SendMetrics(CollectorRegistry())
    attempt = SendAttempt("sent", 0.12, 0.03, Sent(1, "http", "m-1"))
    started = time.perf_counter()
    for _ in range(count):
        observe(attempt)
    return (time.perf_counter() - started) / count * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000], help="outbox sizes")
    parser.add_argument("--repeats", type=int, default=10, help="scrapes per size")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args()
    print(
        f"{'database':<11} {'outbox rows':>12} {'query median':>13} {'query max':>10} {'scrape median':>14} {'max':>9}"
    )
    with databases(args.postgres) as urls:
        for name, url in urls:
            filled = 0
            for rows in sorted(args.rows):
                fill(url, rows - filled, filled)
                filled = rows
                query_ms, scrape_ms = await scrape_times(url, args.repeats)
                print(
                    f"{name:<11} {rows:>12,} {statistics.median(query_ms):>10.1f} ms {max(query_ms):>7.1f} ms "
                    f"{statistics.median(scrape_ms):>11.1f} ms {max(scrape_ms):>6.1f} ms"
                )
    print(f"\nworker observer: {observer_us(100_000):.2f} µs per send attempt")


if __name__ == "__main__":
    asyncio.run(main())
