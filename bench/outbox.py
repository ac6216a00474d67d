#!/usr/bin/env python
"""Outbox benchmark: the OutboxWorker sending through the http gateway (pbx_sms.gateways.http) to a
loopback HTTP server in another process, on SQLite (a file in a temp dir) and on PostgreSQL (a fresh
schema, dropped afterwards; URL from PBX_SMS_TEST_POSTGRES_URL).

Two phases per database:
  burst:   N SMS (default 10,000) all due now; SMS/s = N / (last arrival - worker start);
  delayed: M SMS (default 5,000) due at an even rate over a few seconds in the future;
           lateness = arrival at the HTTP server - due_at, p50/p99/max (never negative: nothing early).
Targets (issue 6): >= 1,000 SMS/s, lateness p99 <= 250 ms.

    .venv/bin/python bench/outbox.py
    .venv/bin/python bench/outbox.py --databases sqlite --sms 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import http_gateway_server, machine, percentile, print_table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pbx_sms.db.config_tables import Account
from pbx_sms.db.engine import Database
from pbx_sms.gateways.http import HttpGateway
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.model import NewSms
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.wakeup import listen_for_new_rows
from pbx_sms.outbox.worker import OutboxWorker
from pbx_sms.storage.database import open_database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TIMEOUT_S = 120.0


def new_account(database: Database) -> int:
    with database.session() as session:
        account = Account(
            name=f"bench-{uuid.uuid4().hex[:8]}", timezone="Europe/Warsaw", country="PL", allowed_countries="PL"
        )
        session.add(account)
        session.flush()
        return account.id


def planned_sms(account_id: int, index: int, due_at: datetime, batch: str) -> NewSms:
    to = f"+48603{index:06d}"
    return NewSms(
        account_id=account_id,
        rule_id=1,
        rule_name="bench",
        call_id=f"{batch}.{index}",
        other_party=to,
        call_ended_at=due_at - timedelta(seconds=60),
        to=to,
        sender="ACME",
        text="Dziękujemy za rozmowę",
        encoding="UCS-2",
        parts=1,
        due_at=due_at,
    )


async def send_all(database: Database, url: str, dues: list[datetime]) -> tuple[float, float]:
    """With a worker running, queue one SMS per due time (as the intake does: off the event loop,
    then wake the worker) and wait until all were sent; returns (queued at, enqueue seconds)."""
    outbox = SqlOutbox(database.engine)
    account_id = new_account(database)
    batch = uuid.uuid4().hex[:8]
    items = [planned_sms(account_id, i, due, batch) for i, due in enumerate(dues)]
    gateway = HttpGateway(url, timeout_s=5, max_connections=4)
    is_postgres = database.engine.dialect.name == "postgresql"
    listener = (lambda wake: listen_for_new_rows(database.engine.url, wake)) if is_postgres else None
    worker = OutboxWorker(outbox, gateway, WorkerConfig(), listener=listener)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.2)  # the worker is up and idle
    enqueue_started = time.time()
    await asyncio.to_thread(outbox.enqueue, items, datetime.now(UTC))
    queued_at = time.time()
    worker.wake()
    deadline = time.perf_counter() + TIMEOUT_S
    try:
        while worker.counters.sent < len(items) and time.perf_counter() < deadline and not task.done():
            await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await task
        await gateway.close()
    if worker.counters.sent < len(items):
        raise RuntimeError(f"{worker.counters.sent} of {len(items)} SMS sent within {TIMEOUT_S:g} s: {worker.counters}")
    return queued_at, queued_at - enqueue_started


def due_times(database: Database) -> dict[str, float]:
    return {row.idempotency_key: row.due_at.timestamp() for row in SqlOutbox(database.engine).list()}


def run_database(name: str, url: str, arguments: argparse.Namespace) -> list[list[str]]:
    rows = []
    with http_gateway_server() as (http_url, finish):
        database = open_database(url)
        try:
            now = datetime.now(UTC)
            started, enqueue_s = asyncio.run(send_all(database, http_url, [now] * arguments.sms))
            spread_s = arguments.delayed / arguments.rate
            # Due only after the enqueue is surely done (at the burst's rate, with a margin): else the
            # first SMS would be late before the worker could see them.
            lead_s = arguments.lead_s + 1.5 * arguments.delayed * enqueue_s / arguments.sms
            first_due = datetime.now(UTC) + timedelta(seconds=lead_s)
            dues = [first_due + timedelta(seconds=i * spread_s / arguments.delayed) for i in range(arguments.delayed)]
            asyncio.run(send_all(database, http_url, dues))
            due_of = due_times(database)
        finally:
            database.close()
        received = finish()
    burst = [at for key, at in received if due_of.get(key, 0) <= started]
    delayed = sorted(at - due_of[key] for key, at in received if due_of.get(key, 0) > started)
    keys = [key for key, _ in received]
    duplicates = len(keys) - len(set(keys))
    burst_rate = len(burst) / (max(burst) - started)
    rows.append(
        [
            f"{name}: burst of {arguments.sms:,} due now",
            f"{burst_rate:,.0f}",
            "-",
            "-",
            "-",
            f"{len(burst):,} received, {duplicates} duplicates; enqueue {arguments.sms / enqueue_s:,.0f} rows/s",
        ]
    )
    rows.append(
        [
            f"{name}: {arguments.delayed:,} due over {arguments.delayed / arguments.rate:g} s",
            f"{len(delayed) / (spread_s or 1):,.0f} offered",
            f"{percentile(delayed, 0.5) * 1000:.0f}",
            f"{percentile(delayed, 0.99) * 1000:.0f}",
            f"{delayed[-1] * 1000:.0f}",
            f"{len(delayed):,} received, earliest {delayed[0] * 1000:+.0f} ms vs due",
        ]
    )
    return rows


def postgres_schema_url(base_url: str, schema: str) -> str:
    url = make_url(base_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sms", type=int, default=10_000, help="SMS of the burst (default 10,000)")
    parser.add_argument("--delayed", type=int, default=5_000, help="SMS of the delayed phase (default 5,000)")
    parser.add_argument("--rate", type=float, default=1_000.0, help="due SMS per second in the delayed phase")
    parser.add_argument("--lead-s", type=float, default=2.0, help="delayed SMS due this long after their enqueue")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    arguments = parser.parse_args()
    print(f"machine: {machine()}")
    rows: list[list[str]] = []
    for name in arguments.databases.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory(prefix="pbx-sms-bench-") as temp:
                rows += run_database("SQLite", f"sqlite:///{temp}/outbox.db", arguments)
        elif name == "postgresql":
            base_url = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(base_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                rows += run_database("PostgreSQL", postgres_schema_url(base_url, schema), arguments)
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        else:
            parser.error(f"--databases: unknown database {name!r} (expected sqlite or postgresql)")
    print_table(
        "outbox worker -> http gateway -> loopback HTTP server",
        ["phase", "SMS/s", "lateness p50 ms", "p99 ms", "max ms", "note"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
