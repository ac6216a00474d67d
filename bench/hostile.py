#!/usr/bin/env python
"""Hostile-input benchmark (issue 14): what a broken or malicious AMI stream costs the listener.

Rows:
  1. one 250 kB message fed to AmiStreamParser in 16-byte reads (as a slow sender delivers it):
     seconds of CPU until it is parsed (the event loop is blocked that long in total);
  2. a garbage stream of 8 MB without a single blank line, in 4 kB reads: CPU seconds and the largest
     buffer the parser held (bytes), with the messages it dropped;
  3. one call with 20,000 ringing legs (Newchannel + DialBegin per leg, then every leg's DialEnd
     NOANSWER and Hangup, then the caller's Hangup) through CallTracker: CPU seconds, with the
     default max_channels_per_call (5,000) and with every leg tracked.

    .venv/bin/python bench/hostile.py
    .venv/bin/python bench/hostile.py --legs 5000 --message-kb 100
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, print_table

from pbx_sms.ami.parser import AmiMessage, AmiStreamParser
from pbx_sms.ami.tracker import WANTED_EVENTS, CallTracker, TrackerConfig

T0 = 1_795_000_000.0


def big_message_cpu_s(size_bytes: int, read_bytes: int) -> tuple[float, int]:
    """CPU seconds to parse one Hangup event padded to ``size_bytes``, fed ``read_bytes`` at a time."""
    filler = b"X" * (size_bytes - 200)
    data = (
        b"Event: Hangup\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\nChannel: PJSIP/201-1\r\nCallerIDName: "
        + filler
        + b"\r\nCause: 16\r\n\r\n"
    )
    parser = AmiStreamParser(WANTED_EVENTS, max_message_bytes=2 * size_bytes)
    messages: list[AmiMessage] = []
    started = time.process_time()
    for start in range(0, len(data), read_bytes):
        messages.extend(parser.feed(data[start : start + read_bytes]))
    return time.process_time() - started, len(messages)


def garbage_stream(total_bytes: int, read_bytes: int) -> tuple[float, int, int]:
    """(CPU seconds, largest buffer held in bytes, messages dropped as oversized) for a stream of
    "Key: value" lines that never ends a message."""
    line = b"Garbage: " + b"y" * 60 + b"\r\n"
    chunk = line * (read_bytes // len(line))
    parser = AmiStreamParser(WANTED_EVENTS)
    largest = 0
    started = time.process_time()
    fed = 0
    while fed < total_bytes:
        parser.feed(chunk)
        fed += len(chunk)
        # buffered_bytes: since issue 14; before it, the parser's bytes buffer (to run this on older code).
        held = getattr(parser, "buffered_bytes", None)
        largest = max(largest, len(getattr(parser, "_buffer", b"")) if held is None else held)
    return time.process_time() - started, largest, parser.stats.oversized


def ringing_legs(legs: int, max_channels: int | None) -> tuple[float, int, str]:
    """CPU seconds for one call whose caller dials ``legs`` phones at once, all unanswered."""

    def event(name: str, at_s: float, **fields: str) -> AmiMessage:
        return AmiMessage({"Event": name, "Timestamp": f"{T0 + at_s:.6f}", **fields})

    caller = {
        "Channel": "PJSIP/trunk-1",
        "Uniqueid": f"{int(T0)}.1",
        "Linkedid": f"{int(T0)}.1",
        "Context": "from-trunk",
        "Exten": "48221234567",
        "CallerIDNum": "+48601234567",
        "ChannelState": "4",
    }
    events = [event("Newchannel", 0, **caller)]
    for leg in range(legs):
        dest = {
            "Channel": f"PJSIP/{leg}-x",
            "Uniqueid": f"{int(T0)}.{leg + 2}",
            "Linkedid": caller["Linkedid"],
            "Context": "from-internal",
            "Exten": "s",
            "CallerIDNum": str(leg),
            "ChannelState": "5",
        }
        events.append(event("Newchannel", 1, **dest))
        events.append(event("DialBegin", 1, **caller, **{f"Dest{k}": v for k, v in dest.items()}))
        events.append(event("DialEnd", 30, **caller, **{f"Dest{k}": v for k, v in dest.items()}, DialStatus="NOANSWER"))
        events.append(event("Hangup", 30, **dest, Cause="19"))
    events.append(event("Hangup", 31, **caller, Cause="16"))
    # The bound (TrackerConfig.max_channels_per_call) where this version of the tracker has one.
    bound = {} if max_channels is None else {"max_channels_per_call": max_channels}
    tracker = CallTracker(TrackerConfig(**bound))  # type: ignore[arg-type]
    calls = []
    started = time.process_time()
    for message in events:
        calls.extend(tracker.feed(message, float(message.fields["Timestamp"])))
    calls.extend(tracker.flush())
    elapsed = time.process_time() - started
    status = calls[0].status if calls else "no call"
    return elapsed, len(calls), status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--message-kb", type=int, default=250, help="size of the big message (default 250 kB)")
    parser.add_argument("--read-bytes", type=int, default=16, help="bytes per read for the big message (default 16)")
    parser.add_argument("--garbage-mb", type=int, default=8, help="garbage stream size (default 8 MB)")
    parser.add_argument("--legs", type=int, default=20_000, help="ringing legs of the one call (default 20,000)")
    parser.add_argument(
        "--max-channels",
        type=int,
        default=None,
        help="max_channels_per_call for the legs case (default: the tracker's default); the legs case also "
        "runs with a bound above --legs, to show the cost of tracking every leg",
    )
    arguments = parser.parse_args()
    logging.disable(logging.WARNING)  # the parser and tracker log what they drop: not in the table
    print(f"machine: {machine()}")
    rows = []
    cpu_s, parsed = big_message_cpu_s(arguments.message_kb * 1000, arguments.read_bytes)
    rows.append(
        [f"{arguments.message_kb} kB message in {arguments.read_bytes}-byte reads", f"{cpu_s:.3f}", f"{parsed} parsed"]
    )
    cpu_s, largest, dropped = garbage_stream(arguments.garbage_mb * 1_000_000, 4096)
    rows.append(
        [
            f"{arguments.garbage_mb} MB without a blank line, 4 kB reads",
            f"{cpu_s:.3f}",
            f"largest buffer {largest:,} bytes, {dropped} dropped as oversized",
        ]
    )
    cpu_s, calls, status = ringing_legs(arguments.legs, arguments.max_channels)
    rows.append([f"one call, {arguments.legs:,} ringing legs", f"{cpu_s:.3f}", f"{calls} call(s) out, {status}"])
    if "max_channels_per_call" in TrackerConfig.__dataclass_fields__:
        cpu_s, calls, status = ringing_legs(arguments.legs, arguments.legs + 1)
        rows.append(
            [
                f"one call, {arguments.legs:,} ringing legs, all tracked",
                f"{cpu_s:.3f}",
                f"{calls} call(s) out, {status}",
            ]
        )
    print_table("hostile AMI input, CPU seconds of this process", ["case", "CPU s", "result"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
