#!/usr/bin/env python
"""Ingest benchmark: a busy-hour AMI stream scaled to >= 1M events, replayed at full speed over
loopback TCP into the pbx-sms pipeline, and into stock panoramisk with a no-op handler.

Rows, in one run, on the same bytes from the same loopback server (a separate process):
  1. pbx-sms AmiListener -> CallTracker -> on_call (a no-op): events/s, completed calls/s;
  2. the same, with on_call = CallIntake.submit in a worker thread, one call at a time (call log,
     matching against the rules in rules/*.yaml, outbox insert) on SQLite in a temp dir (`pbx-sms run`
     records calls in batches and matches them after: bench/record.py measures the recording);
  3. stock panoramisk.Manager with a no-op '*' event handler.
events/s = events in the stream / seconds from connect until the last event was read; events/CPU-s
divides by this process's CPU time instead (the loopback server is another process), which stays
comparable when other work shares the machine.
Targets (issue 6): >= 100k events/s with the read=all stream, never below bare panoramisk.

    .venv/bin/python bench/ingest.py                 # 1M events of busy_hour.all.ami
    .venv/bin/python bench/ingest.py --stream callcdr --events 200000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    FIXTURES,
    REPO,
    ScaledStream,
    ami_server,
    build_scaled_stream,
    busy_hour_calls,
    machine,
    print_table,
)

from pbx_sms.ami.connection import ConnectionConfig
from pbx_sms.ami.listener import AmiListener
from pbx_sms.ami.tracker import CallTracker, TrackerConfig
from pbx_sms.core.call import CompletedCall

POLL_S = 0.005
TIMEOUT_S = 600.0
COMPANY_NUMBERS = [f"+4822123456{digit}" for digit in range(10)]


@dataclass
class Row:
    name: str
    events_s: float | None = None  # seconds until the last event was read
    events_cpu_s: float | None = None  # CPU seconds of this process (all threads) by then
    completed_s: float | None = None  # seconds until the last call was completed by the tracker
    intake_s: float | None = None  # seconds until the last call was through the intake
    calls: int = 0
    note: str = ""


async def wait_until(condition: Callable[[], bool], what: str) -> float:
    """Seconds (perf_counter) at which ``condition`` first held, polled every POLL_S."""
    deadline = time.perf_counter() + TIMEOUT_S
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {TIMEOUT_S:g} s")
        await asyncio.sleep(POLL_S)
    return time.perf_counter()


def open_intake(directory: Path):  # type: ignore[no-untyped-def]
    from pbx_sms.core.rulefile import load_rule_file
    from pbx_sms.intake.service import CallIntake
    from pbx_sms.outbox.sql import SqlOutbox
    from pbx_sms.storage.config_cache import ConfigCache
    from pbx_sms.storage.database import open_database
    from pbx_sms.storage.numbers import add_number, add_sender
    from pbx_sms.storage.rule_store import RuleSource, import_rules

    database = open_database(f"sqlite:///{directory / 'bench.db'}", timezone="Europe/Warsaw", country="PL")
    with database.session() as session:
        add_sender(session, "ACME", "default")
        for number in COMPANY_NUMBERS:
            add_number(session, number, "default")
        sources = []
        for path in sorted((REPO / "rules").glob("*.yaml")):
            rule_file = load_rule_file(path)
            sources.append(RuleSource(str(path), rule_file.account, rule_file.rules))
        import_rules(session, sources)
    return database, CallIntake(database, SqlOutbox(database.engine), ConfigCache(database), pbx="bench")


def count_outbox_rows(database) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from pbx_sms.db.outbox_table import outbox_table

    with database.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox_table)).scalar() or 0)


async def run_pbx_sms(port: int, stream: ScaledStream, db_dir: Path | None) -> Row:
    database = intake = None
    if db_dir is not None:
        database, intake = open_intake(db_dir)
    intake_done = 0
    intake_lock = asyncio.Lock()

    async def on_call(call: CompletedCall) -> None:
        nonlocal intake_done
        if intake is not None:
            # The intake is synchronous: one call at a time, off the event loop.
            async with intake_lock:
                await asyncio.to_thread(intake.submit, call, "ami")
        intake_done += 1

    config = ConnectionConfig("127.0.0.1", port, "bench", SecretStr("bench"), ping_interval_s=3600.0)
    tracker = CallTracker(TrackerConfig())
    listener = AmiListener(config, tracker, on_call)

    def events_read() -> int:
        status = listener.connection.status
        return status.events + status.skipped_events + status.malformed_messages + status.oversized_messages

    started, cpu_started = time.perf_counter(), time.process_time()
    task = asyncio.create_task(listener.run())
    row = Row("pbx-sms listener -> tracker" + (" -> intake + outbox (SQLite)" if intake else " (no-op on_call)"))
    row.events_s = await wait_until(lambda: events_read() >= stream.events, "the last event") - started
    row.events_cpu_s = time.process_time() - cpu_started
    row.completed_s = await wait_until(lambda: tracker.completed >= stream.calls, "the last call") - started
    if intake is not None:
        row.intake_s = await wait_until(lambda: intake_done >= stream.calls, "the intake") - started
    listener.stop()
    await task
    row.calls = tracker.completed
    if tracker.dropped or tracker.completed != stream.calls:
        row.note = f"completed {tracker.completed} of {stream.calls} calls, dropped {tracker.dropped}; "
    if database is not None:
        row.note += f"{count_outbox_rows(database)} outbox rows"
        database.close()
    return row


async def run_panoramisk(port: int, stream: ScaledStream) -> Row:
    import logging

    from panoramisk import Manager

    seen = 0

    def on_event(manager: Manager, message: object) -> None:
        nonlocal seen
        seen += 1

    manager = Manager(
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="bench",
        loop=asyncio.get_running_loop(),
        encoding="utf-8",
        ping_delay=3600,
        reconnect_timeout=3600,
        log=logging.getLogger("bench.panoramisk"),
    )
    manager.register_event("*", on_event)
    started, cpu_started = time.perf_counter(), time.process_time()
    await manager.connect()
    row = Row("stock panoramisk.Manager, no-op '*' handler")
    row.events_s = await wait_until(lambda: seen >= stream.events, "the last event") - started
    row.events_cpu_s = time.process_time() - cpu_started
    manager.close()
    return row


def rate(count: int, seconds: float | None) -> str:
    return "-" if not seconds else f"{count / seconds:,.0f}"


async def main_async(arguments: argparse.Namespace, stream: ScaledStream, port: int, work: Path) -> list[Row]:
    rows = [await run_pbx_sms(port, stream, None)]
    if not arguments.no_intake:
        rows.append(await run_pbx_sms(port, stream, work))
    if not arguments.no_panoramisk:
        rows.append(await run_panoramisk(port, stream))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many events (default 1M)")
    parser.add_argument(
        "--stream", choices=["all", "callcdr"], default="all", help="busy_hour.all.ami (read=all, default) or .callcdr"
    )
    parser.add_argument("--no-intake", action="store_true", help="skip the run through CallIntake and the outbox")
    parser.add_argument("--no-panoramisk", action="store_true", help="skip the stock panoramisk run")
    arguments = parser.parse_args()

    recording = FIXTURES / f"busy_hour.{arguments.stream}.ami"
    with tempfile.TemporaryDirectory(prefix="pbx-sms-bench-") as temp:
        work = Path(temp)
        built = time.perf_counter()
        stream = build_scaled_stream(
            recording, arguments.events, work / "stream.ami", busy_hour_calls(arguments.stream)
        )
        size_mb = stream.path.stat().st_size / 1e6
        print(f"machine: {machine()}")
        print(
            f"stream: {recording.name} x {stream.copies} = {stream.events:,} events, {stream.calls:,} calls, "
            f"{size_mb:,.0f} MB (built in {time.perf_counter() - built:.1f} s)"
        )
        print(f"load average before the run: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        with ami_server(stream.path) as port:
            rows = asyncio.run(main_async(arguments, stream, port, work))
    print_table(
        f"ingest over loopback TCP, {stream.events:,} events ({arguments.stream})",
        ["pipeline", "events/s", "events/CPU-s", "calls/s completed", "calls/s through intake", "seconds", "note"],
        [
            [
                row.name,
                rate(stream.events, row.events_s),
                rate(stream.events, row.events_cpu_s),
                rate(stream.calls, row.completed_s),
                rate(stream.calls, row.intake_s),
                f"{row.intake_s or row.completed_s or row.events_s:.1f}",
                row.note,
            ]
            for row in rows
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
