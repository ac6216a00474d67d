#!/usr/bin/env python
"""Call recording benchmark: how fast completed calls reach the call log, and how long one waits.

The daemon's path from the listener's on_call to the database: CallRecorder -> CallIntake.record ->
one INSERT ... ON CONFLICT DO NOTHING per batch. Two rows per database:
  1. paced: calls handed over at --rate calls/s (in 1 ms ticks, as a burst from AMI arrives):
     recorded calls/s, and the longest and the 99th-percentile wait of a call from hand-over until
     its batch committed (the bound on what a kill -9 can lose);
  2. burst: all --calls handed over at once: recorded calls/s.
Targets (issue 12): >= 5,000 calls/s recorded on SQLite and PostgreSQL, waits within 250 ms at that rate.

    .venv/bin/python bench/record.py        # SQLite in a temp dir, and PostgreSQL (PBX_SMS_TEST_POSTGRES_URL)
    .venv/bin/python bench/record.py --rate 10000 --calls 50000
    .venv/bin/python bench/record.py --postgres ''          # SQLite only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pbx_sms.core.call import CompletedCall
from pbx_sms.intake.recorder import CallRecorder
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TICK_S = 0.001
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class Result:
    name: str
    calls_s: float
    max_wait_ms: float | None = None
    p99_wait_ms: float | None = None
    batches: int = 0


def make_calls(count: int, tag: str) -> list[CompletedCall]:
    return [
        CompletedCall(
            f"{tag}.{number}",
            "in",
            "+48221234567",
            f"+4860{number % 10_000_000:07d}",
            "no_answer",
            0,
            START + timedelta(seconds=number),
            START + timedelta(seconds=number + 20),
        )
        for number in range(count)
    ]


class TimedRecorder:
    """A CallRecorder whose batches also note when each call was handed over and committed."""

    def __init__(self, intake: CallIntake) -> None:
        self._intake = intake
        self.handed_s: dict[str, float] = {}
        self.waits_s: list[float] = []
        self.recorder = CallRecorder(self._record, lambda: None)

    def _record(self, batch: Sequence[CompletedCall], source: str) -> None:
        self._intake.record(batch, source)
        committed_s = time.monotonic()
        self.waits_s.extend(committed_s - self.handed_s[call.call_id] for call in batch)

    def add(self, call: CompletedCall) -> None:
        self.handed_s[call.call_id] = time.monotonic()
        self.recorder.add(call)


async def paced(intake: CallIntake, calls: list[CompletedCall], rate: float) -> Result:
    timed = TimedRecorder(intake)
    task = asyncio.create_task(timed.recorder.run())
    started_s = time.monotonic()
    handed = 0
    while handed < len(calls):
        due = min(len(calls), int((time.monotonic() - started_s) * rate) + 1)
        for call in calls[handed:due]:
            timed.add(call)
        handed = due
        await asyncio.sleep(TICK_S)
    timed.recorder.stop()
    await task
    elapsed_s = time.monotonic() - started_s
    waits_ms = sorted(wait_s * 1000 for wait_s in timed.waits_s)
    return Result(
        f"paced at {rate:,.0f}/s",
        len(calls) / elapsed_s,
        waits_ms[-1],
        statistics.quantiles(waits_ms, n=100)[98],
        timed.recorder.batches,
    )


async def burst(intake: CallIntake, calls: list[CompletedCall]) -> Result:
    timed = TimedRecorder(intake)
    started_s = time.monotonic()
    for call in calls:
        timed.add(call)
    timed.recorder.stop()
    await timed.recorder.run()
    return Result("burst, all at once", len(calls) / (time.monotonic() - started_s), batches=timed.recorder.batches)


@contextlib.contextmanager
def databases(postgres_url: str) -> Iterator[list[tuple[str, str]]]:
    with tempfile.TemporaryDirectory() as directory:
        urls = [("SQLite", f"sqlite:///{Path(directory) / 'bench.db'}")]
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = None
        if postgres_url:
            from sqlalchemy import create_engine, make_url, text

            admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            scoped = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
            urls.append(("PostgreSQL", scoped.render_as_string(hide_password=False)))
        try:
            yield urls
        finally:
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=5000.0, help="calls handed over per second (paced row)")
    parser.add_argument("--calls", type=int, default=20_000, help="calls per row")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args()
    print(f"{'database':<11} {'row':<22} {'recorded/s':>11} {'max wait':>10} {'p99 wait':>10} {'batches':>8}")
    with databases(args.postgres) as urls:
        for name, url in urls:
            database = open_database(url, timezone="Europe/Warsaw", country="PL")
            intake = CallIntake(database, SqlOutbox(database.engine), ConfigCache(database), pbx="bench")
            try:
                for result in (
                    await paced(intake, make_calls(args.calls, "p"), args.rate),
                    await burst(intake, make_calls(args.calls, "b")),
                ):
                    max_wait = "" if result.max_wait_ms is None else f"{result.max_wait_ms:.1f} ms"
                    p99_wait = "" if result.p99_wait_ms is None else f"{result.p99_wait_ms:.1f} ms"
                    print(
                        f"{name:<11} {result.name:<22} {result.calls_s:>11,.0f} {max_wait:>10} {p99_wait:>10} "
                        f"{result.batches:>8}"
                    )
            finally:
                database.close()


if __name__ == "__main__":
    asyncio.run(main())
