#!/usr/bin/env python
"""Hangup hook benchmark: the daemon's FastAGI server against the spawned AGI script, on SQLite.

The server runs here as `pbx-sms run` wires it (FastAgiServer -> CallRecorder -> CallIntake.record,
a migrated SQLite file in a temp dir); a fake Asterisk in a separate process (this script with
--client, speaking FastAGI as res_agi.c does: tests/fake_asterisk.py) sends --requests hangups with
--concurrency sessions at once. Rows:
  1. FastAGI, one session at a time: per-request latency (connect until the server closed, the
     time Asterisk's hung-up channel waits);
  2. FastAGI, --concurrency at once: hangups/s (all answered; and all committed to the call log)
     and latency;
  3. the spawned script (agi-bin/pbx-sms-hangup.agi as Asterisk runs it), --spawned times one at a
     time: hangups/s, latency, CPU per hangup.
Targets (issue 13): FastAGI >= 1,000 hangups/s, p99 <= 5 ms with SQLite. On a shared machine the
wall-clock rates fall with the CPU left over; "per CPU-s" (hangups per CPU-second of the server's
process) does not.

    .venv/bin/python bench/fastagi.py
    .venv/bin/python bench/fastagi.py --requests 20000 --concurrency 50 --spawned 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from benchlib import REPO, machine, percentile, print_table

sys.path.insert(0, str(REPO / "tests"))

from fake_asterisk import agi_values, fastagi_request, run_hook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pbx_sms.config import FastAgiSettings
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import make_engine
from pbx_sms.fastagi import FastAgiServer
from pbx_sms.intake.recorder import CallRecorder
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database

# --- the fake Asterisk (a separate process) ---------------------------------------------------------


async def client(port: int, requests: int, concurrency: int, prefix: str) -> dict[str, object]:
    latencies_s: list[float] = []
    failures = 0
    queue = iter(range(requests))

    async def session_loop() -> None:
        nonlocal failures
        for number in queue:
            exchange = await fastagi_request(port, agi_values(linkedid=f"{prefix}.{number}"))
            if len(exchange.commands) != 1 or "handed to the call log" not in exchange.commands[0]:
                failures += 1
            latencies_s.append(exchange.wall_s)

    started_at = time.time()  # the server's clock too: it measures until the calls are committed
    started = time.monotonic()
    await asyncio.gather(*(session_loop() for _ in range(concurrency)))
    elapsed_s = time.monotonic() - started
    return {"started_at": started_at, "elapsed_s": elapsed_s, "latencies_s": latencies_s, "failures": failures}


def run_client(port: int, requests: int, concurrency: int, prefix: str) -> dict[str, object]:
    output = subprocess.run(
        [sys.executable, __file__, "--client", str(port), str(requests), str(concurrency), prefix],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, object] = json.loads(output)
    return result


# --- the server side ------------------------------------------------------------------------------------


def recorded_count(engine: Engine, prefix: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(calls_table).where(calls_table.c.call_id.like(f"{prefix}.%"))
        return int(conn.execute(query).scalar() or 0)


def latency_row(
    name: str, requests: int, elapsed_s: float, committed_s: float, latencies_s: list[float], cpu_ms: float
) -> list[object]:
    ordered = sorted(latency * 1000 for latency in latencies_s)
    return [
        name,
        f"{requests:,}",
        f"{requests / elapsed_s:,.0f}",
        f"{requests / committed_s:,.0f}",
        f"{percentile(ordered, 0.50):.2f}",
        f"{percentile(ordered, 0.99):.2f}",
        f"{ordered[-1]:.2f}",
        f"{cpu_ms:.2f}",
        f"{1000 / cpu_ms:,.0f}",
    ]


async def fastagi_rows(url: str, requests: int, concurrency: int) -> list[list[object]]:
    database = open_database(url, timezone="Europe/Warsaw", country="PL")
    intake = CallIntake(database, SqlOutbox(database.engine), ConfigCache(database), pbx="bench")
    recorder = CallRecorder(intake.record, lambda: None)
    server = FastAgiServer(
        FastAgiSettings(port=0), partial(recorder.add, source="agi"), country="PL", internal_max_digits=5
    )
    recording = asyncio.create_task(recorder.run())
    await server.start()
    rows = []
    try:
        for name, prefix, sessions in (
            ("FastAGI, 1 at a time", "seq", 1),
            (f"FastAGI, {concurrency} at once", "par", concurrency),
        ):
            cpu_before = time.process_time()
            result = await asyncio.to_thread(run_client, server.port, requests, sessions, prefix)
            while await asyncio.to_thread(recorded_count, database.engine, prefix) < requests:
                await asyncio.sleep(0.005)
            committed_s = time.time() - float(result["started_at"])  # type: ignore[arg-type]
            cpu_ms = (time.process_time() - cpu_before) * 1000 / requests
            assert result["failures"] == 0, result["failures"]
            latencies_s: list[float] = result["latencies_s"]  # type: ignore[assignment]
            elapsed_s = float(result["elapsed_s"])  # type: ignore[arg-type]
            rows.append(latency_row(name, requests, elapsed_s, committed_s, latencies_s, cpu_ms))
    finally:
        await server.stop()
        recorder.stop()
        await recording
        database.close()
    return rows


def spawned_row(url: str, runs: int) -> list[object]:
    settings = {"PBX_SMS_DATABASE_URL": url, "PBX_SMS_PBX_NAME": "bench"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    latencies_s = []
    started = time.monotonic()
    for number in range(runs):
        run = run_hook(settings, agi_values(linkedid=f"spawn.{number}"))
        assert run.returncode == 0 and "recorded" in run.commands[0], run.stderr
        latencies_s.append(run.wall_s)
    elapsed_s = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000 / runs
    engine = make_engine(url)
    try:
        assert recorded_count(engine, "spawn") == runs
    finally:
        engine.dispose()
    # Each run wrote its call before it exited: committed as soon as answered.
    return latency_row("spawned script, 1 at a time", runs, elapsed_s, elapsed_s, latencies_s, cpu_ms)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="FastAGI hangups per row")
    parser.add_argument("--concurrency", type=int, default=20, help="FastAGI sessions at once (second row)")
    parser.add_argument("--spawned", type=int, default=20, help="runs of the spawned script")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        rows = await fastagi_rows(url, args.requests, args.concurrency)
        rows.append(spawned_row(url, args.spawned))
    print_table(
        "Hangup hook, SQLite. Latency: connect until the session ended (the hung-up channel waits that long);\n"
        "committed/s: until every call was in the call log; CPU: the server's process per hangup\n"
        "(the spawned script's own process), and hangups per CPU-second of it",
        ["row", "hangups", "answered/s", "committed/s", "p50 ms", "p99 ms", "max ms", "CPU ms", "per CPU-s"],
        rows,
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        port, requests, concurrency, prefix = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        print(json.dumps(asyncio.run(client(port, requests, concurrency, prefix))))
    else:
        asyncio.run(main())
