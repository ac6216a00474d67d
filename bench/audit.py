#!/usr/bin/env python
"""Audit log benchmark: what recording every change costs the change, and what reading a page costs.

Per database (SQLite in a temp dir, PostgreSQL at PBX_SMS_TEST_POSTGRES_URL), once without the audit's
session event and once with it, each on its own account:
  - import --rules new rules (one transaction), import them again all changed (updates), then replace
    them with one rule (deletes): ms per transaction, wall clock and this process's CPU;
  - --changes single changes (add a company number), one transaction each: mean and p99 ms;
and then one page (100 entries, newest first) of the audit log, of everything and of one account.

    .venv/bin/python bench/audit.py
    .venv/bin/python bench/audit.py --rules 200 --postgres ''     # SQLite only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine, percentile, print_table
from record import databases
from sqlalchemy import event
from sqlalchemy.orm import Session

from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.core.rules import Rule
from pbx_sms.db.engine import Database
from pbx_sms.storage import audit
from pbx_sms.storage.accounts import add_account
from pbx_sms.storage.actor import set_actor
from pbx_sms.storage.audit_entries import AuditQuery, list_page
from pbx_sms.storage.database import open_database
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def rules(count: int, text: str) -> list[Rule]:
    lines = ["account: bench", "rules:"]
    for n in range(count):
        lines.append(f"  - name: Rule {n}")
        lines.append("    when: {direction: in, numbers: all, status: [no_answer, busy], talk_s: {min: 5}}")
        lines.append(f'    then: {{sender: ACME, to: [other_party], text: "{text} {n}", delay_s: 60}}')
    return list(parse_rule_text("\n".join(lines)).rules)


def timed_ms(operation: Callable[[], object]) -> float:
    started = time.perf_counter()
    operation()
    return (time.perf_counter() - started) * 1000


def wall_and_cpu(operation: Callable[[], object]) -> str:
    """ "wall / this process's CPU" in ms: the CPU figure stays comparable when other work shares the machine."""
    cpu_started = time.process_time()
    wall_ms = timed_ms(operation)
    return f"{wall_ms:.0f} / {(time.process_time() - cpu_started) * 1000:.0f}"


def write(database: Database, change: Callable[[Session], object]) -> None:
    with database.write_session() as session:
        set_actor(session, "cli:bench")
        change(session)


def run_mode(database: Database, account: str, prefix: str, rule_count: int, changes: int) -> list[str]:
    """The write row of one mode; ``prefix``: of its company numbers (a number has one owner)."""
    write(database, lambda s: add_account(s, account, timezone="Europe/Warsaw", country="PL"))
    write(database, lambda s: add_sender(s, "ACME", account))
    created, changed = rules(rule_count, "Sorry we missed you"), rules(rule_count, "We will call back")

    def importing(batch: list[Rule], replace: bool = False) -> Callable[[], object]:
        return lambda: write(database, lambda s: import_rules(s, [RuleSource("b", account, batch)], replace=replace))

    create = wall_and_cpu(importing(created))
    update = wall_and_cpu(importing(changed))
    delete = wall_and_cpu(importing(changed[:1], replace=True))
    singles = sorted(
        timed_ms(lambda n=n: write(database, lambda s: add_number(s, f"{prefix}{n:07d}", account)))
        for n in range(changes)
    )
    mean = sum(singles) / len(singles)
    return [create, update, delete, f"{mean:.2f}", f"{percentile(singles, 0.99):.2f}"]


def page_ms(database: Database, query: AuditQuery, count: int) -> str:
    def read() -> None:
        with database.session() as session:
            assert len(list_page(session, query).entries) == 100

    return f"{sum(timed_ms(read) for _ in range(count)) / count:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=1000, help="rules per import")
    parser.add_argument("--changes", type=int, default=300, help="single-change transactions")
    parser.add_argument("--reads", type=int, default=200, help="page reads")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args()
    writes: list[list[object]] = []
    reads: list[list[object]] = []
    with databases(args.postgres) as urls:
        for name, url in urls:
            database = open_database(url)
            try:
                run_mode(database, "warm-up", "+4871", 50, 20)  # connections, caches: not in the first row
                event.remove(Session, "after_flush", audit._record_flush)
                try:
                    writes.append([name, "without", *run_mode(database, "plain", "+4822", args.rules, args.changes)])
                finally:
                    event.listen(Session, "after_flush", audit._record_flush)
                writes.append([name, "with", *run_mode(database, "bench", "+4858", args.rules, args.changes)])
                reads.append([name, "everything", page_ms(database, AuditQuery(), args.reads)])
                reads.append([name, "account bench", page_ms(database, AuditQuery(account_name="bench"), args.reads)])
            finally:
                database.close()
    print(machine())
    print_table(
        f"writes with and without the audit log ({args.rules} rules per import, {args.changes} single changes)",
        [
            "database",
            "audit",
            "create ms wall/CPU",
            "update ms wall/CPU",
            "delete ms wall/CPU",
            "1 change ms",
            "p99 ms",
        ],
        writes,
    )
    print_table("one page of 100 entries, newest first", ["database", "entries of", "mean ms"], reads)


if __name__ == "__main__":
    main()
