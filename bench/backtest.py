#!/usr/bin/env python
"""Backtest benchmark: a call log of 100,000 calls over 30 days (SQLite in a temp dir, one account with
quiet hours, a daily cap and opt-outs; 60% missed, 5,000 distinct callers, some anonymous and landline),
then `manage.backtest` of a missed-call rule with a delay and a minimum interval over the 30 days: wall
and CPU time, calls/s, and the peak RSS growth while it runs (the calls are streamed, not loaded).

    .venv/bin/python bench/backtest.py
    .venv/bin/python bench/backtest.py --calls 20000 --days 7
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, print_table

from pbx_sms.core.rulefile import check_rule_document
from pbx_sms.db.calls_table import calls_table
from pbx_sms.manage.backtest import backtest
from pbx_sms.storage.accounts import add_account
from pbx_sms.storage.database import open_database
from pbx_sms.storage.optouts import add_optout

RULE = {
    "name": "missed",
    "when": {"direction": "in", "numbers": "all", "status": ["no_answer", "busy"]},
    "then": {
        "sender": "ACME",
        "to": ["other_party"],
        "text": "Przepraszamy, nie odebraliśmy połączenia o {time}. Oddzwonimy!",
        "delay_s": 120,
        "min_interval_s": 3600,
        "transliterate": True,
    },
}
BATCH = 5_000


def caller(rng: random.Random, callers: int) -> str:
    roll = rng.random()
    if roll < 0.03:
        return "anonymous"
    if roll < 0.08:
        return f"+4822{rng.randrange(1_000_000, 9_999_999)}"  # a landline
    return f"+48600{rng.randrange(callers):06d}"


def seed(url: str, calls: int, days: int, callers: int, now: datetime) -> float:
    database = open_database(url)
    with database.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL", daily_cap=2_000, quiet_hours="22:00-07:00")
        for number in range(0, callers, 50):  # 2% of the callers opted out
            add_optout(session, f"+48600{number:06d}", "acme", "PL")
    rng = random.Random(15)
    span_s = days * 86_400
    started = time.perf_counter()
    with database.engine.begin() as conn:
        rows = []
        for index in range(calls):
            ended = now - timedelta(seconds=span_s * (index + 0.5) / calls)
            status = rng.choices(["answered", "no_answer", "busy"], [40, 50, 10])[0]
            talk_s = rng.randrange(10, 600) if status == "answered" else 0
            rows.append(
                {
                    "pbx": "pbx1",
                    "call_id": f"c{index}",
                    "direction": "in" if rng.random() < 0.8 else "out",
                    "number": "+48221234567",
                    "other_party": caller(rng, callers),
                    "status": status,
                    "talk_s": talk_s,
                    "started_at": ended - timedelta(seconds=talk_s + 15),
                    "ended_at": ended,
                    "source": "ami",
                    "evidence": "full",
                    "account": "acme",
                    "received_at": ended,
                    "processed_at": ended,
                }
            )
            if len(rows) == BATCH:
                conn.execute(calls_table.insert(), rows)
                rows.clear()
        if rows:
            conn.execute(calls_table.insert(), rows)
    database.close()
    return time.perf_counter() - started


def memory_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM, so the peak measured is the backtest's own.
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--callers", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    rule = check_rule_document(RULE)
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        seed_s = seed(url, args.calls, args.days, args.callers, now)
        database = open_database(url)
        rows = []
        result = None
        for run in range(1, args.runs + 1):
            reset_peak_rss()
            rss_before = memory_mb("VmRSS")
            wall, cpu = time.perf_counter(), time.process_time()
            result = backtest(database, "acme", rule, days=args.days, now=now, internal_max_digits=5)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            rows.append(
                [
                    run,
                    f"{result.calls:,}",
                    f"{wall:.2f}",
                    f"{cpu:.2f}",
                    f"{result.calls / wall:,.0f}",
                    f"{memory_mb('VmHWM') - rss_before:.1f}",
                ]
            )
        database.close()
    print(f"{machine()}; seeded {args.calls:,} calls over {args.days} days in {seed_s:.1f} s")
    print_table(
        f"backtest of one rule over {args.days} days (SQLite)",
        ["run", "calls", "wall s", "CPU s", "calls/s", "peak RSS growth MB"],
        rows,
    )
    if result is not None:
        print(f"\nsent {result.sent:,} to {result.distinct_numbers:,} numbers, delayed {result.delayed:,}")
        print("suppressed: " + ", ".join(f"{reason} {count:,}" for reason, count in sorted(result.suppressed.items())))


if __name__ == "__main__":
    main()
