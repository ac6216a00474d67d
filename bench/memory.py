#!/usr/bin/env python
"""Memory benchmark: RSS of this process before and after pushing >= 1M events (busy_hour.all.ami
scaled, as in bench/ingest.py) through the live listener pipeline: AmiConnection over loopback TCP
-> AmiStreamParser -> CallTracker -> on_call (counts the calls).

"before" is taken after a warm-up copy of the recording went through the same pipeline (imports,
caches, the first connection's buffers), so the difference is what a long run adds.
Target (issue 6): growth <= 10 MB.

    .venv/bin/python bench/memory.py
    .venv/bin/python bench/memory.py --events 200000 --stream callcdr
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import FIXTURES, ami_server, build_scaled_stream, busy_hour_calls, machine, print_table, rss_bytes

from pbx_sms.ami.connection import ConnectionConfig
from pbx_sms.ami.listener import AmiListener
from pbx_sms.ami.tracker import CallTracker, TrackerConfig
from pbx_sms.core.call import CompletedCall

POLL_S = 0.01
TIMEOUT_S = 600.0


async def push(port: int, events: int, calls: int) -> tuple[int, CallTracker]:
    """Run one listener until ``events`` were read and ``calls`` completed; the calls it handed on."""
    delivered = 0

    async def on_call(call: CompletedCall) -> None:
        nonlocal delivered
        delivered += 1

    config = ConnectionConfig("127.0.0.1", port, "bench", SecretStr("bench"), ping_interval_s=3600.0)
    tracker = CallTracker(TrackerConfig())
    listener = AmiListener(config, tracker, on_call)
    task = asyncio.create_task(listener.run())
    deadline = time.perf_counter() + TIMEOUT_S
    while delivered < calls:
        status = listener.connection.status
        if time.perf_counter() > deadline or task.done():
            raise RuntimeError(f"{status.events + status.skipped_events} of {events} events, {delivered} calls")
        await asyncio.sleep(POLL_S)
    listener.stop()
    await task
    return delivered, tracker


def mb(value: int) -> str:
    return f"{value / 1e6:.1f}"


async def main_async(
    warm_port: int, port: int, warm_calls: int, events: int, calls: int
) -> tuple[list[list[str]], str]:
    await push(warm_port, 0, warm_calls)
    gc.collect()
    before = rss_bytes()
    delivered, tracker = await push(port, events, calls)
    after_run = rss_bytes()
    gc.collect()
    after = rss_bytes()
    return [
        ["RSS before (after a warm-up copy)", mb(before), ""],
        ["RSS after, before gc.collect()", mb(after_run), f"+{mb(after_run - before)}"],
        ["RSS after gc.collect()", mb(after), f"+{mb(after - before)}"],
    ], (
        f"calls delivered {delivered:,}; left in the tracker: {tracker.open_calls} calls, "
        f"{tracker.tracked_channels} channels, {tracker.tracked_bridges} bridges"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many events (default 1M)")
    parser.add_argument("--stream", choices=["all", "callcdr"], default="all")
    arguments = parser.parse_args()
    recording = FIXTURES / f"busy_hour.{arguments.stream}.ami"
    calls_per_copy = busy_hour_calls(arguments.stream)
    with tempfile.TemporaryDirectory(prefix="pbx-sms-bench-") as temp:
        warm = build_scaled_stream(recording, 1, Path(temp) / "warm.ami", calls_per_copy)
        stream = build_scaled_stream(recording, arguments.events, Path(temp) / "stream.ami", calls_per_copy)
        print(f"machine: {machine()}")
        print(f"stream: {recording.name} x {stream.copies} = {stream.events:,} events, {stream.calls:,} calls")
        with ami_server(warm.path) as warm_port, ami_server(stream.path) as port:
            rows, summary = asyncio.run(main_async(warm_port, port, warm.calls, stream.events, stream.calls))
    print_table(f"RSS of the listener process, {stream.events:,} events", ["", "MB", "growth MB"], rows)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
