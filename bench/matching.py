#!/usr/bin/env python
"""Matching benchmark: 1,000 accounts x 10 rules (directions, statuses, talk-time bounds, schedules
with weekdays, hours across midnight and date ranges, placeholders, Polish text, transliteration,
fixed recipients, a disabled rule), calls with E.164 numbers; time of one match_call per call
against its account's compiled rules.

Two passes over the same calls: "warm" after every other party has been classified once (the
lru_cache in pbx_sms.core.phone holds it: repeat callers), and "cold" with other parties never seen
before (each call parses its number with phonenumbers).  Target (issue 6): p99 <= 50 us (warm).

    .venv/bin/python bench/matching.py
    .venv/bin/python bench/matching.py --calls 50000 --accounts 200
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, percentile, print_table

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.matching import AccountPolicy, CompiledRule, compile_rules, match_call
from pbx_sms.core.phone import classify_party
from pbx_sms.core.rules import RuleFile

TIMEZONES = ["Europe/Warsaw", "Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Berlin"]
STATUSES = ["answered", "answered", "answered", "no_answer", "no_answer", "busy", "failed"]
WEEK_START = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday


def account_numbers(account: int) -> list[str]:
    return [f"+4822{account:04d}{line:03d}" for line in range(3)]


def account_rules(account: int) -> list[dict[str, object]]:
    did, did2, _ = account_numbers(account)
    return [
        {
            "name": "Missed - office hours",
            "when": {
                "direction": "in",
                "numbers": [did],
                "status": ["no_answer", "busy"],
                "schedule": {
                    "weekdays": ["mon", "tue", "wed", "thu", "fri"],
                    "hours": [{"from": "08:00", "to": "18:00"}],
                },
            },
            "then": {
                "sender": "ACME",
                "to": ["other_party"],
                "text": "Przepraszamy, nie mogliśmy odebrać na {number} o {time}. Oddzwonimy.",
                "delay_s": 60,
                "min_interval_s": 3600,
            },
        },
        {
            "name": "Missed - after hours",
            "when": {
                "direction": "in",
                "numbers": [did],
                "status": ["no_answer", "busy"],
                "schedule": {"hours": [{"from": "18:00", "to": "08:00"}]},
            },
            "then": {
                "sender": "ACME",
                "to": ["other_party"],
                "text": "Biuro jest czynne pn-pt 8:00-18:00. Zgłoszenie zostaw na https://acme.example/kontakt",
                "transliterate": True,
                "min_interval_s": 86400,
            },
        },
        {
            "name": "Tell the manager",
            "when": {"direction": "in", "numbers": "all", "status": ["no_answer"]},
            "then": {
                "sender": "ACME",
                "to": ["+48600100100"],
                "text": "Nieodebrane: {other_party} na {number}, {date} {time}",
                "max_parts": 2,
            },
        },
        {
            "name": "Thank you",
            "when": {"direction": "in", "numbers": [did, did2], "status": ["answered"], "talk_s": {"min": 10}},
            "then": {"sender": "ACME", "to": ["other_party"], "text": "Dziękujemy za rozmowę ({talk_min} min)!"},
        },
        {
            "name": "Contact details",
            "when": {
                "direction": "out",
                "numbers": [did2],
                "status": ["answered"],
                "talk_s": {"min": 60, "max": 3600},
            },
            "then": {
                "sender": "ACME",
                "to": ["other_party"],
                "text": "ACME, ul. Przykladowa 1, Warszawa. Tel. +48 22 123 45 67, www.acme.example",
                "delay_s": 30,
                "min_interval_s": 86400,
            },
        },
        {
            "name": "Christmas",
            "enabled": False,
            "when": {
                "direction": "any",
                "numbers": "all",
                "status": ["answered", "no_answer", "busy"],
                "schedule": {"dates": [{"from": "2026-12-20", "to": "2026-12-31"}]},
            },
            "then": {"sender": "ACME", "to": ["other_party"], "text": "Wesołych Świąt!"},
        },
        {
            "name": "Technical failure",
            "when": {"direction": "any", "numbers": "all", "status": ["failed"]},
            "then": {"sender": "ACME", "to": ["+48600200300"], "text": "{direction} call {status} on {number}"},
        },
        {
            "name": "Weekend busy",
            "when": {"direction": "in", "numbers": "all", "status": ["busy"], "schedule": {"weekdays": ["sat", "sun"]}},
            "then": {"sender": "ACME", "to": ["other_party"], "text": "W weekend oddzwonimy w poniedziałek."},
        },
        {
            "name": "November survey",
            "when": {
                "direction": "in",
                "numbers": [did],
                "status": ["answered", "no_answer"],
                "talk_s": {"max": 600},
                "schedule": {"dates": [{"from": "2026-11-01", "to": "2026-11-30"}]},
            },
            "then": {"sender": "ACME", "to": ["other_party"], "text": "{rule}: {talk_s} s, {date}. Oceń nas 1-5."},
        },
        {
            "name": "Unanswered outgoing",
            "when": {"direction": "out", "numbers": "all", "status": ["no_answer", "busy"]},
            "then": {
                "sender": "ACME",
                "to": ["other_party", "+48600300400"],
                "text": "Dzwoniliśmy z {number} o {time}: prosimy o kontakt.",
                "delay_s": 120,
            },
        },
    ]


def other_party(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.85:
        return f"+48{rng.choice('5678')}{rng.randrange(10**8):08d}"  # mobile ranges
    if kind < 0.95:
        return f"+4822{rng.randrange(10**7):07d}"  # Warsaw landline
    return "anonymous"


def make_calls(
    count: int, accounts: int, parties: list[str], rng: random.Random, each_once: bool = False
) -> list[tuple[int, CompletedCall]]:
    """``each_once``: call i has parties[i] (never seen before), else a random one of ``parties``."""
    calls = []
    for index in range(count):
        account = rng.randrange(accounts)
        status = rng.choice(STATUSES)
        talk_s = rng.randrange(1, 900) if status == "answered" else 0
        ended_at = WEEK_START + timedelta(seconds=rng.randrange(7 * 86400))
        call = CompletedCall(
            call_id=f"1795574886.{index}",
            direction=rng.choice(("in", "in", "out")),  # type: ignore[arg-type]
            number=rng.choice(account_numbers(account)),
            other_party=parties[index] if each_once else rng.choice(parties),
            status=status,  # type: ignore[arg-type]
            talk_s=talk_s,
            started_at=ended_at - timedelta(seconds=talk_s + 10),
            ended_at=ended_at,
        )
        calls.append((account, call))
    return calls


def time_calls(
    calls: list[tuple[int, CompletedCall]], policies: list[AccountPolicy], rules: list[tuple[CompiledRule, ...]]
) -> tuple[list[float], list[float], int]:
    """Per call: wall-clock microseconds, and CPU microseconds of this thread (which leave out the
    time the OS gave to other processes: on a shared machine the wall p99.9 is mostly that)."""
    wall: list[float] = []
    cpu: list[float] = []
    planned = 0
    wall_clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    gc.disable()  # a collection inside one timed call would be the collector's cost, not the matcher's
    try:
        for account, call in calls:
            cpu_started = cpu_clock()
            started = wall_clock()
            result = match_call(call, policies[account], rules[account])
            ended = wall_clock()
            cpu_ended = cpu_clock()
            wall.append((ended - started) / 1000)
            cpu.append((cpu_ended - cpu_started) / 1000)
            planned += len(result)
    finally:
        gc.enable()
    wall.sort()
    cpu.sort()
    return wall, cpu, planned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200_000, help="timed calls per pass (default 200,000)")
    parser.add_argument("--parties", type=int, default=20_000, help="distinct other parties of the warm pass")
    parser.add_argument("--seed", type=int, default=6)
    arguments = parser.parse_args()
    rng = random.Random(arguments.seed)

    built = time.perf_counter()
    policies = [AccountPolicy(f"account-{i}", TIMEZONES[i % len(TIMEZONES)], "PL") for i in range(arguments.accounts)]
    rules = [
        compile_rules(RuleFile.model_validate({"account": f"account-{i}", "rules": account_rules(i)}).rules)
        for i in range(arguments.accounts)
    ]
    parties = [other_party(rng) for _ in range(arguments.parties)]
    warm_calls = make_calls(arguments.calls, arguments.accounts, parties, rng)
    for party in parties:
        classify_party(party, "PL", 5)
    cold_parties = [f"+48{rng.choice('5678')}{n:08d}" for n in rng.sample(range(10**8), arguments.calls)]
    cold_calls = make_calls(arguments.calls, arguments.accounts, cold_parties, rng, each_once=True)
    print(f"machine: {machine()}")
    print(
        f"{arguments.accounts:,} accounts x {len(rules[0])} rules, {arguments.calls:,} calls per pass "
        f"(set up in {time.perf_counter() - built:.1f} s)"
    )

    for account, call in warm_calls[:2000]:  # warm the template, zone and schedule paths
        match_call(call, policies[account], rules[account])
    rows = []
    for name, calls in (("warm (repeat callers)", warm_calls), ("cold (new caller each call)", cold_calls)):
        wall, cpu, planned = time_calls(calls, policies, rules)
        for clock, durations in (("wall", wall), ("CPU", cpu)):
            rows.append(
                [
                    f"{name}, {clock}",
                    f"{sum(durations) / len(durations):.1f}",
                    f"{percentile(durations, 0.50):.1f}",
                    f"{percentile(durations, 0.90):.1f}",
                    f"{percentile(durations, 0.99):.1f}",
                    f"{percentile(durations, 0.999):.1f}",
                    f"{durations[-1]:.0f}",
                    f"{planned / len(calls):.2f}",
                ]
            )
    print_table(
        "match_call per call, microseconds (CPU: this thread's CPU time, without time lost to other processes)",
        ["pass, clock", "mean", "p50", "p90", "p99", "p99.9", "max", "SMS/call"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
