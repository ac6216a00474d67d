#!/usr/bin/env python
"""Two views of one call: what a second report costs when it reaches the call log, and what a re-plan costs.

Per database (SQLite in a temp dir, PostgreSQL at PBX_SMS_TEST_POSTGRES_URL in a fresh schema):
  1. first reports: --calls hook views (evidence hint, no_answer) recorded in batches of --batch;
  2. second views: the AMI views of the same calls (evidence full, answered 31 s) in batches of --batch:
     each replaces the truth and keeps the hook's view beside it (calls.other_view);
  3. processing: the hook's views processed alone first (a missed-call SMS each, queued, not due), then
     the AMI views re-planned (each cancels that SMS, queues a thank-you): calls/s for both rounds.

    .venv/bin/python bench/views.py
    .venv/bin/python bench/views.py --calls 2000 --postgres ''     # SQLite only
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, postgres_schema, print_table

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
END = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULES = """
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed you", delay_s: 3600}
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered], talk_s: {min: 5}}
    then: {sender: ACME, to: [other_party], text: "Thanks for {talk_s} s", delay_s: 3600}
"""


def hook_views(count: int) -> list[CompletedCall]:
    return [
        CompletedCall(
            f"1800000000.{n}", "in", "+48221234567", f"+4860{n:07d}", "no_answer", 0,
            END - timedelta(seconds=40), END, "hint",
        )
        for n in range(count)
    ]  # fmt: skip


def timed(action: Iterator[int]) -> float:
    started = time.perf_counter()
    done = sum(action)
    return done / (time.perf_counter() - started)


def bench(url: str, calls: int, batch: int) -> list[object]:
    database = open_database(url, timezone="Europe/Warsaw", country="PL")
    try:
        with database.session() as session:
            add_sender(session, "ACME", "default")
            add_number(session, "+48221234567", "default")
            import_rules(session, [RuleSource("rules.yaml", "default", parse_rule_text(RULES).rules)])
        intake = CallIntake(database, SqlOutbox(database.engine), ConfigCache(database), pbx="bench", clock=lambda: END)
        hooks = hook_views(calls)
        amis = [replace(call, status="answered", talk_s=31, evidence="full") for call in hooks]

        def record(views: list[CompletedCall], source: str) -> Iterator[int]:
            for start in range(0, len(views), batch):
                chunk = views[start : start + batch]
                intake.record(chunk, source)
                yield len(chunk)

        def process() -> Iterator[int]:
            while done := intake.process_pending(100):
                yield done

        first_s = timed(record(hooks, "agi"))
        process_first_s = timed(process())
        second_s = timed(record(amis, "ami"))
        replan_s = timed(process())
        assert intake.views_replaced == calls and intake.views_disagreed == calls
        return [url.split(":")[0], f"{first_s:,.0f}", f"{second_s:,.0f}", f"{process_first_s:,.0f}", f"{replan_s:,.0f}"]
    finally:
        database.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100, help="calls per record() transaction")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="empty: SQLite only")
    options = parser.parse_args()
    logging.disable(logging.WARNING)  # a line per second view would measure the terminal
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(bench(f"sqlite:///{Path(tmp) / 'bench.db'}", options.calls, options.batch))
    if options.postgres:
        with postgres_schema(options.postgres) as url:
            rows.append(bench(url, options.calls, options.batch))
    print(machine())
    header = ["database", "first reports/s", "second views/s", "processed/s (hook)", "re-planned/s (AMI)"]
    print_table(f"{options.calls} calls, two views each, batches of {options.batch}", header, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
