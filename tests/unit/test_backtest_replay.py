"""The backtest replay (pure): the outbox's decisions over calls in order, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pbx_sms.core.call import CallStatus, CompletedCall
from pbx_sms.core.matching import AccountPolicy
from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.rulefile import check_rule_document
from pbx_sms.manage.backtest_replay import MAX_EXAMPLES, BacktestReplay, BacktestResult
from pbx_sms.outbox.decisions import AccountLimits

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Warsaw
ACCOUNT = AccountPolicy(name="acme", timezone="Europe/Warsaw", country="PL")
MANAGER = "+48600999999"


def rule(*, to: str = "other_party", delay_s: int = 300, min_interval_s: int = 0, status: str = "no_answer") -> Any:
    return check_rule_document(
        {
            "name": "r",
            "when": {"direction": "in", "numbers": "all", "status": [status]},
            "then": {
                "sender": "ACME",
                "to": [to],
                "text": "x",
                "delay_s": delay_s,
                "min_interval_s": min_interval_s,
            },
        }
    )


def call(index: int, minutes: float, other: str, status: CallStatus = "no_answer") -> CompletedCall:
    ended = START + timedelta(minutes=minutes)
    return CompletedCall(f"c{index}", "in", "+48221234567", other, status, 0, ended - timedelta(seconds=20), ended)


def replay(
    calls: list[CompletedCall],
    *,
    limits: AccountLimits | None = None,
    opted_out: frozenset[str] = frozenset(),
    account: AccountPolicy = ACCOUNT,
    **rule_options: Any,
) -> BacktestResult:
    limits = limits or AccountLimits(timezone=account.timezone)
    replayer = BacktestReplay(rule(**rule_options), account, limits, opted_out, internal_max_digits=5)
    for item in calls:
        replayer.feed(item)
    return replayer.finish(rule="r", account="acme", since=START, until=START + timedelta(days=1))


def test_sms_service_off_suppresses_every_sms() -> None:
    off = AccountPolicy(name="acme", timezone="Europe/Warsaw", country="PL", sms_enabled=False)
    result = replay([call(0, 0, "+48600100001")], account=off, limits=AccountLimits(sms_enabled=False))
    assert (result.sent, result.suppressed) == (0, {"sms_service_inactive": 1})


def test_a_fixed_recipient_hears_of_each_caller_once_per_interval() -> None:
    calls = [call(0, 0, "+48600100001"), call(1, 1, "+48600100002"), call(2, 2, "+48600100001")]
    result = replay(calls, to=MANAGER, min_interval_s=3600)
    assert (result.sent, result.distinct_numbers, result.suppressed) == (2, 1, {"min_interval": 1})


def test_an_answered_call_cancels_only_sms_not_yet_sent() -> None:
    calls = [
        call(0, 0, "+48600100001"),  # due 10:05
        call(1, 3, "+48600100001", "answered"),  # reached before 10:05: cancelled
        call(2, 10, "+48600100002"),  # due 10:15
        call(3, 20, "+48600100002", "answered"),  # after it went: nothing to cancel
    ]
    result = replay(calls)
    assert (result.sent, result.suppressed) == (1, {"reached_person": 1})
    assert [example.reason for example in result.examples] == ["reached_person", None]


def test_quiet_hours_delay_and_the_held_sms_go_in_the_order_they_are_sent() -> None:
    quiet = QuietHours.parse("10:00-11:00")  # Warsaw: every SMS of the first hour waits until 11:00
    limits = AccountLimits(timezone="Europe/Warsaw", quiet_hours=quiet, daily_cap=2)
    calls = [call(index, index * 10, f"+4860010000{index}") for index in range(4)]
    result = replay(calls, limits=limits, delay_s=0)
    assert (result.sent, result.delayed, result.suppressed) == (2, 2, {"daily_cap_reached": 2})
    assert {example.sent_at for example in result.examples if example.sent_at} == {START + timedelta(hours=1)}


def test_opted_out_numbers_and_examples_are_bounded() -> None:
    calls = [call(index, index * 2, f"+486001{index:05d}") for index in range(30)]
    result = replay(calls, opted_out=frozenset({"+48600100003"}))
    assert (result.calls, result.sent, result.suppressed) == (30, 29, {"opted_out": 1})
    assert len(result.examples) == MAX_EXAMPLES
    assert result.examples[3].reason == "opted_out"


def test_a_disabled_rule_is_replayed_as_enabled() -> None:
    disabled = rule().model_copy(update={"enabled": False})
    replayer = BacktestReplay(disabled, ACCOUNT, AccountLimits(), frozenset(), internal_max_digits=5)
    replayer.feed(call(0, 0, "+48600100001"))
    assert replayer.finish(rule="r", account="acme", since=START, until=START).sent == 1
