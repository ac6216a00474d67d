"""How calls come out when the AMI connection drops at one point of a recording.

For each drop point (spread evenly over the stream) prints how many calls came out with evidence
full/gap/cdr, how many classified the same as without the drop, and how many were lost.

    .venv/bin/python bench/drops.py [--points 10] [--gap-s 0.4] tests/fixtures/busy_hour.all.ami ...
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from drop_replay import recording_messages, replay_with_drop, same_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", nargs="+", type=Path)
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--gap-s", type=float, default=0.4)
    parser.add_argument("--resync", action="store_true", help="the user may CoreShowChannels (write reporting)")
    args = parser.parse_args()
    for path in args.recordings:
        messages = recording_messages(path)
        baseline = {call.call_id: call for call in replay_with_drop(messages, None)}
        print(f"{path.name}: {len(messages)} events, {len(baseline)} calls without a drop")
        print(f"{'drop before':>11} {'full':>5} {'gap':>4} {'cdr':>4} {'same':>5} {'lost':>5} {'extra':>5}")
        totals: Counter[str] = Counter()
        for point in range(args.points):
            drop_at = (point + 1) * len(messages) // (args.points + 1)
            calls = {call.call_id: call for call in replay_with_drop(messages, drop_at, args.gap_s, resync=args.resync)}
            counts = Counter(call.evidence for call in calls.values())
            same = sum(
                1 for call_id, call in calls.items() if call_id in baseline and same_call(call, baseline[call_id])
            )
            lost = len(baseline.keys() - calls.keys())
            extra = len(calls.keys() - baseline.keys())
            row = {"full": counts["full"], "gap": counts["gap"], "cdr": counts["cdr"], "same": same, "lost": lost}
            totals.update(row | {"extra": extra})
            print(f"{drop_at:>11} {row['full']:>5} {row['gap']:>4} {row['cdr']:>4} {same:>5} {lost:>5} {extra:>5}")
        print(
            f"{'total':>11} "
            + " ".join(
                f"{totals[k]:>{w}}"
                for k, w in (("full", 5), ("gap", 4), ("cdr", 4), ("same", 5), ("lost", 5), ("extra", 5))
            )
        )


if __name__ == "__main__":
    main()
