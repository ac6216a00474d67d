#!/usr/bin/env python
"""The SMS log's page query with delivery reports: what the outer join and the delivery filter cost.

Per database (SQLite in a temp dir, PostgreSQL at PBX_SMS_TEST_POSTGRES_URL in a fresh schema):
--rows sent SMS of one account (a week of them), 60 % with a delivered report, 10 % undelivered,
10 % an intermediate one, the rest none; then a page of 51 rows (what the panel and the API ask)
newest first: unfiltered, filtered by delivery (undelivered, unknown), and by a status. Mean and
p99 of --repeat queries per row.

    .venv/bin/python bench/sms_log.py
    .venv/bin/python bench/sms_log.py --rows 20000 --postgres ''     # SQLite only
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, percentile, postgres_schema, print_table
from sqlalchemy import insert, text

from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.core.sms_status import Status
from pbx_sms.db.config_tables import Account
from pbx_sms.db.delivery_table import DeliveryReportRecord
from pbx_sms.db.engine import Database
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.outbox.model import LogQuery
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.database import open_database

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PAGE = 51


def _report_of(n: int) -> str | None:
    share = n % 10
    if share < 6:
        return DeliveryStatus.DELIVERED.value
    if share == 6:
        return DeliveryStatus.UNDELIVERED.value
    if share == 7:
        return DeliveryStatus.SENT.value
    return None


def fill(database: Database, rows: int) -> int:
    with database.session() as session:
        account = Account(name="bench", timezone="Europe/Warsaw", country="PL", allowed_countries="PL")
        session.add(account)
        session.flush()
        account_id = account.id
    step_s = 7 * 86400 / rows
    outbox, reports = [], []
    for n in range(rows):
        at = NOW - timedelta(seconds=n * step_s)
        outbox.append(
            {
                "idempotency_key": str(uuid.uuid4()), "account_id": account_id, "rule_id": n % 5,
                "rule_name": f"rule {n % 5}", "pbx": "pbx", "local_to_pbx": False, "call_id": f"c{n}",
                "other_party": f"+4860{n:07d}", "call_ended_at": at, "recipient": f"+4860{n:07d}",
                "sender": "ACME", "text": "Sorry we missed you", "encoding": "gsm7", "parts": 1,
                "to_other_party": True, "min_interval_s": 0, "cancel_on_reach": False,
                "status": Status.SENT.value, "scheduled_at": at, "due_at": at, "attempts": 1,
                "last_attempt_at": at, "gateway": "smsapi", "message_id": f"m{n}", "created_at": at,
                "updated_at": at,
            }
        )  # fmt: skip
        status = _report_of(n)
        if status is not None:
            reports.append(
                {"gateway": "smsapi", "message_id": f"m{n}", "status": status, "code": None, "received_at": at,
                 "reports": 1}
            )  # fmt: skip
    with database.engine.begin() as conn:
        for start in range(0, rows, 5000):
            conn.execute(insert(outbox_table), outbox[start : start + 5000])
        for start in range(0, len(reports), 5000):
            conn.execute(insert(DeliveryReportRecord.__table__), reports[start : start + 5000])
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE outbox"))  # what autovacuum does after a bulk load
            conn.execute(text("ANALYZE delivery_reports"))
    return account_id


def timed(outbox: SqlOutbox, query: LogQuery, repeat: int) -> tuple[float, float, int]:
    times, found = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = len(outbox.log(query))
        times.append(time.perf_counter() - started)
    times.sort()
    return sum(times) / len(times), percentile(times, 0.99), found


def databases(postgres: str) -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as directory:
        yield "sqlite", f"sqlite:///{Path(directory) / 'bench.db'}"
    if postgres:
        with postgres_schema(postgres) as url:
            yield "postgresql", url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres", default=POSTGRES_URL, help="'' for SQLite only")
    args = parser.parse_args()
    table = []
    for kind, url in databases(args.postgres):
        database = open_database(url)
        try:
            account_id = fill(database, args.rows)
            outbox = SqlOutbox(database.engine)
            base = LogQuery(account_id=account_id, limit=PAGE)
            for label, query in (
                ("page, no filter", base),
                ("page, delivery=undelivered", LogQuery(account_id=account_id, limit=PAGE,
                                                        delivery=DeliveryStatus.UNDELIVERED)),
                ("page, delivery=unknown", LogQuery(account_id=account_id, limit=PAGE,
                                                    delivery=DeliveryStatus.UNKNOWN)),
                ("page, status=sent", LogQuery(account_id=account_id, limit=PAGE,
                                               statuses=frozenset({Status.SENT}))),
            ):  # fmt: skip
                mean_s, p99_s, found = timed(outbox, query, args.repeat)
                table.append((kind, label, found, f"{mean_s * 1000:.2f}", f"{p99_s * 1000:.2f}"))
        finally:
            database.close()
    print_table(
        f"SMS log page of {PAGE} over {args.rows} sent SMS with delivery reports ({machine()})",
        ["database", "query", "rows", "mean ms", "p99 ms"],
        table,
    )


if __name__ == "__main__":
    main()
