"""SMS pumping on a fresh install: one caller calling 1,000 times, with the shipped example rules.

Before: 1,001 SMS (one to the caller, one to the manager per call: the `default` account had no daily
cap and a fixed recipient was never throttled). Now the manager hears of that caller once per
``min_interval_s`` and the fresh `default` account has a daily cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from paths import ROOT

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.rulefile import load_rule_file
from pbx_sms.core.sms_status import Status
from pbx_sms.db.engine import Database
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.model import Sent
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.records import DEFAULT_DAILY_CAP
from pbx_sms.storage.rule_store import RuleSource, import_rules

CALLS = 1000
CALLER = "+48601234567"
MANAGER = "+48600100100"
OFFICE = "+48221234567"
# Monday 10:00 in Warsaw: the office-hours rule applies.
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def fresh(database_url: str) -> Iterator[Database]:
    database = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    example = load_rule_file(ROOT / "rules" / "missed-call.yaml")
    with database.session() as session:
        add_sender(session, "ACME", "default")
        add_number(session, OFFICE, "default")
        import_rules(session, [RuleSource("missed-call.yaml", "default", example.rules)])
    yield database
    database.close()


def test_a_fresh_default_account_has_the_default_daily_cap(fresh: Database) -> None:
    with fresh.session() as session:
        assert get_account(session, "default").daily_cap == DEFAULT_DAILY_CAP


def test_one_caller_calling_a_thousand_times_texts_the_manager_once_per_interval(fresh: Database) -> None:
    outbox = SqlOutbox(fresh.engine)
    now = START
    intake = CallIntake(fresh, outbox, ConfigCache(fresh, check_interval_s=0), pbx="pbx-1", clock=lambda: now)
    for number in range(CALLS):
        now = START + timedelta(seconds=number)
        call = CompletedCall(
            f"1764000000.{number}", "in", OFFICE, CALLER, "no_answer", 0, now - timedelta(seconds=20), now
        )
        intake.submit(call, "ami")
        rows = outbox.claim_due("w1", now, 100, 30.0)
        outbox.apply("w1", [Sent(row.id, "log", None) for row in rows], now)
    # The caller's SMS waits 60 s (delay_s): one more round once it is due.
    now += timedelta(seconds=120)
    rows = outbox.claim_due("w1", now, 100, 30.0)
    outbox.apply("w1", [Sent(row.id, "log", None) for row in rows], now)
    sent = Counter(row.to for row in outbox.list(statuses=[Status.SENT]))
    print(f"\n{CALLS} calls from one caller: {sum(sent.values())} SMS sent {dict(sent)}")
    assert sent == {CALLER: 1, MANAGER: 1}


def test_many_callers_are_bounded_by_the_default_daily_cap(fresh: Database) -> None:
    outbox = SqlOutbox(fresh.engine)
    now = START
    intake = CallIntake(fresh, outbox, ConfigCache(fresh, check_interval_s=0), pbx="pbx-1", clock=lambda: now)
    callers = DEFAULT_DAILY_CAP + 50
    for number in range(callers):
        now = START + timedelta(seconds=number)
        other = f"+4860{number:07d}"
        intake.submit(CompletedCall(f"1764100000.{number}", "in", OFFICE, other, "no_answer", 0, now, now), "ami")
        rows = outbox.claim_due("w1", now, 100, 30.0)
        outbox.apply("w1", [Sent(row.id, "log", None) for row in rows], now)
    now += timedelta(seconds=120)
    rows = outbox.claim_due("w1", now, 500, 30.0)
    outbox.apply("w1", [Sent(row.id, "log", None) for row in rows], now)
    # Each caller would get one SMS and the manager one per caller: 2 x 250 wanted, the cap lets 200 out.
    assert len(outbox.list(statuses=[Status.SENT])) == DEFAULT_DAILY_CAP
