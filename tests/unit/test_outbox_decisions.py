"""The outbox decisions (pure): the limits, their order, what a claim batch reserves and hands out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.claiming import ClaimPlanner, DueRow, held_for_operator
from pbx_sms.outbox.decisions import (
    AccountLimits,
    Candidate,
    EnqueuePlanner,
    Facts,
    Gate,
    PartyRow,
    Questions,
    cancelled_on_reach,
    check_cancel,
    check_retry,
    enqueue_report,
    local_day,
    within_min_interval,
)
from pbx_sms.outbox.model import NewSms, OutboxError

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
A = "+48601000001"
TODAY = local_day(1, NOW, "UTC")


def candidate(to: str = A, *, other: bool = True, interval_s: int = 0, caller: str = A) -> Candidate:
    return Candidate(1, 1, to, other, interval_s, NOW, caller)


def facts(limits: AccountLimits, *, optouts: frozenset[tuple[int | None, str]] = frozenset(), sent: int = 0) -> Facts:
    return Facts({1: limits}, optouts, {TODAY: sent})


def due(row_id: int, to: str = A, status: Status = Status.QUEUED, *, interval_s: int = 0) -> DueRow:
    attempted = NOW - timedelta(seconds=40) if status != Status.QUEUED else None
    return DueRow(row_id, status, NOW - timedelta(seconds=10), 1, 1, to, True, interval_s, to, attempted)


def new_sms(to: str = A, *, due_at: datetime = NOW, reason: Reason | None = None) -> NewSms:
    return NewSms(1, 1, "r", "c1", to, due_at, to, "ACME", "hi", "GSM-7", 1, due_at, reason=reason)


# --- the gate ------------------------------------------------------------------------------------


def test_reasons_in_order_service_optout_cap_interval() -> None:
    optouts = frozenset({(1, A)})
    off = facts(AccountLimits(sms_enabled=False, daily_cap=0), optouts=optouts)
    assert Gate(reserve=True).decide(candidate(), off) == Reason.SERVICE_INACTIVE
    capped = facts(AccountLimits(daily_cap=0), optouts=optouts)
    assert Gate(reserve=True).decide(candidate(), capped) == Reason.OPTED_OUT
    assert Gate(reserve=True).decide(candidate("+48601000009"), capped) == Reason.DAILY_CAP


def test_an_opt_out_without_account_is_for_every_account() -> None:
    assert Gate(reserve=True).decide(candidate(), facts(AccountLimits(), optouts=frozenset({(None, A)}))) == (
        Reason.OPTED_OUT
    )
    assert Gate(reserve=True).decide(candidate(), facts(AccountLimits(), optouts=frozenset({(2, A)}))) is None


def test_an_account_that_is_gone_sends_nothing() -> None:
    assert Gate(reserve=True).decide(candidate(), Facts({})) == Reason.SERVICE_INACTIVE


def test_a_reserving_batch_counts_its_own_approvals() -> None:
    gate, known = Gate(reserve=True), facts(AccountLimits(daily_cap=3), sent=1)
    assert [gate.decide(candidate(f"+4860100000{i}"), known) for i in range(4)] == [
        None,
        None,
        Reason.DAILY_CAP,
        Reason.DAILY_CAP,
    ]


def test_a_non_reserving_gate_only_checks() -> None:
    gate, known = Gate(reserve=False), facts(AccountLimits(daily_cap=3), sent=1)
    assert [gate.decide(candidate(f"+4860100000{i}"), known) for i in range(4)] == [None] * 4


def test_interval_applies_to_the_other_party_and_to_a_fixed_recipient_per_caller() -> None:
    gate, known = Gate(reserve=True), facts(AccountLimits())
    assert gate.decide(candidate(interval_s=60), known) is None
    assert gate.decide(candidate(interval_s=60), known) == Reason.MIN_INTERVAL
    manager = "+48600100100"
    # Before: a fixed recipient was never throttled (1,000 calls from one caller, 1,000 SMS to the manager).
    assert gate.decide(candidate(manager, other=False, interval_s=60), known) is None
    assert gate.decide(candidate(manager, other=False, interval_s=60), known) == Reason.MIN_INTERVAL
    # ... but still hears of every other caller.
    other_caller = candidate(manager, other=False, interval_s=60, caller="+48601000002")
    assert gate.decide(other_caller, known) is None


def test_the_last_send_of_history_counts_for_the_interval() -> None:
    known = Facts({1: AccountLimits()}, last_sent_at={(1, A, None): NOW - timedelta(seconds=30)})
    assert Gate(reserve=True).decide(candidate(interval_s=60), known) == Reason.MIN_INTERVAL
    assert Gate(reserve=True).decide(candidate(interval_s=30), known) is None


def test_questions_ask_only_what_the_decisions_need_and_the_gate_does_not_know() -> None:
    gate = Gate(reserve=True)
    limits = {1: AccountLimits(daily_cap=5), 2: AccountLimits(sms_enabled=False)}
    throttled, fixed = candidate(interval_s=60), candidate("+48600100100", other=False, interval_s=60)
    off = Candidate(2, 1, "+48601000002", True, 60, NOW)
    assert gate.questions([throttled, fixed, off], limits) == Questions(
        frozenset({A, "+48600100100"}), frozenset({TODAY}), frozenset({(1, A, None), (1, "+48600100100", A)})
    )
    gate.decide(throttled, Facts(limits, sent={TODAY: 0}))
    assert gate.questions([throttled], limits) == Questions(frozenset({A}))


def test_interval_boundary() -> None:
    assert within_min_interval(NOW - timedelta(seconds=59), 60, NOW)
    assert not within_min_interval(NOW - timedelta(seconds=60), 60, NOW)
    assert not within_min_interval(None, 60, NOW)
    assert not within_min_interval(NOW, 0, NOW)


def test_local_day_is_23_hours_on_the_spring_dst_change() -> None:
    day = local_day(1, NOW, "Europe/Warsaw")
    assert day.start.astimezone(UTC) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert day.end.astimezone(UTC) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    late = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # 00:30 on the 30th in Warsaw
    assert local_day(1, late, "Europe/Warsaw").start.astimezone(UTC) == day.end.astimezone(UTC)


# --- queueing ------------------------------------------------------------------------------------

QUIET = AccountLimits(timezone="UTC", quiet_hours=QuietHours.parse("11:00-13:00"))


def test_enqueue_holds_until_the_quiet_hours_end_and_checks_the_limits_then() -> None:
    limits = {1: AccountLimits(daily_cap=1, timezone="UTC", quiet_hours=QuietHours.parse("11:00-13:00"))}
    planner = EnqueuePlanner([new_sms()], limits, NOW)
    [day] = planner.questions.days
    assert day.start == datetime(2026, 3, 29, tzinfo=UTC)
    [row] = planner.rows(Facts(limits, sent={day: 0}))
    assert (row.status, row.reason, row.due_at) == (Status.QUEUED, None, NOW + timedelta(hours=1))
    assert row.hold is not None and row.hold.until == NOW + timedelta(hours=1)


def test_enqueue_keeps_the_matchers_reason_and_time() -> None:
    planner = EnqueuePlanner([new_sms(reason=Reason.LANDLINE)], {1: QUIET}, NOW)
    assert planner.questions == Questions()
    [row] = planner.rows(Facts({1: QUIET}))
    assert (row.status, row.reason, row.due_at, row.hold) == (Status.SUPPRESSED, Reason.LANDLINE, NOW, None)


def test_the_report_leaves_out_duplicates_and_lists_held_rows() -> None:
    planner = EnqueuePlanner([new_sms(), new_sms("+48601000002"), new_sms(reason=Reason.ANONYMOUS)], {1: QUIET}, NOW)
    rows = planner.rows(Facts({1: QUIET}))
    report = enqueue_report(rows, [7, None, 8])
    assert (report.queued, report.suppressed, report.duplicates) == ((7,), ((8, Reason.ANONYMOUS),), 1)
    assert report.held == ((7, NOW + timedelta(hours=1)),)


# --- claiming ------------------------------------------------------------------------------------


def test_the_limit_counts_only_rows_handed_out() -> None:
    planner = ClaimPlanner(2, NOW)
    known = facts(AccountLimits(), optouts=frozenset({(None, "+48601000009")}))
    batch = [due(1, "+48601000009"), due(2), due(3, "+48601000009"), due(4, "+48601000004"), due(5, "+48601000005")]
    plan = planner.plan(batch, known)
    assert [row.id for row in plan.leased] == [2, 4]
    assert [(row.id, reason) for row, reason in plan.suppressed] == [(1, Reason.OPTED_OUT), (3, Reason.OPTED_OUT)]
    assert planner.remaining == 0


def test_reservations_carry_over_to_the_next_batch() -> None:
    planner = ClaimPlanner(5, NOW)
    known = facts(AccountLimits(), sent=0)
    assert [row.id for row in planner.plan([due(1, interval_s=60)], known).leased] == [1]
    assert planner.remaining == 4
    assert planner.questions([due(2, interval_s=60)], known.limits) == Questions(frozenset({A}))
    second = planner.plan([due(2, interval_s=60)], known)
    assert [(row.id, reason) for row, reason in second.suppressed] == [(2, Reason.MIN_INTERVAL)]


def test_rows_inside_quiet_hours_are_held_and_not_counted() -> None:
    planner = ClaimPlanner(1, NOW)
    plan = planner.plan([due(1), due(2, status=Status.SENDING)], Facts({1: QUIET}))
    end = NOW + timedelta(hours=1)
    assert [(row.id, hold.until, status) for row, hold, status in plan.held] == [
        (1, end, Status.QUEUED),
        (2, end, Status.UNCLEAR),  # its lease ran out: it may have gone out, and keeps counting
    ]
    assert plan.unclear_since == {2: NOW - timedelta(seconds=40)}
    assert plan.leased == () and planner.remaining == 1
    assert planner.questions([due(3)], {1: QUIET}) == Questions()


def test_an_expired_lease_is_not_checked_against_the_limits_again() -> None:
    planner = ClaimPlanner(1, NOW)
    plan = planner.plan([due(1, status=Status.SENDING)], facts(AccountLimits(daily_cap=0), sent=5))
    assert [row.id for row in plan.leased] == [1]
    assert plan.unclear_since == {1: NOW - timedelta(seconds=40)}  # the gateway is told to look first


def test_an_unclear_row_is_not_checked_against_the_limits_again() -> None:
    planner = ClaimPlanner(1, NOW, resend_interrupted=False)
    plan = planner.plan([due(1, status=Status.UNCLEAR)], facts(AccountLimits(daily_cap=1), sent=1))
    assert [row.id for row in plan.leased] == [1] and plan.unclear_since == {}


def test_an_expired_lease_is_held_for_an_operator_when_the_gateway_cannot_resend_safely() -> None:
    planner = ClaimPlanner(2, NOW, resend_interrupted=False)
    plan = planner.plan([due(1, status=Status.SENDING), due(2)], facts(AccountLimits()))
    assert [row.id for row in plan.leased] == [2]
    assert [(row.id, reason) for row, reason in plan.interrupted] == [(1, held_for_operator(1))]
    assert "pbx-sms outbox retry 1" in held_for_operator(1)
    assert plan.unclear_since == {1: NOW - timedelta(seconds=40)} and planner.remaining == 1


# --- cancelling and retrying ---------------------------------------------------------------------


def test_a_reached_party_cancels_missed_call_sms_of_earlier_calls_only() -> None:
    ended = NOW - timedelta(minutes=5)
    queued = [
        PartyRow(1, "pbx-1", "missed", ended, True),
        PartyRow(2, "pbx-1", "missed", ended, False),  # not a missed-call SMS
        PartyRow(3, "pbx-1", "callback", ended, True),  # the reaching call's own
        PartyRow(4, "pbx-1", "later", NOW + timedelta(minutes=1), True),  # a call that ended after it
    ]
    assert cancelled_on_reach(queued, "pbx-1", "callback", NOW) == [1]
    # The same Linkedid on another PBX is another call: it cancels the missed-call SMS of this one.
    assert cancelled_on_reach(queued, "pbx-2", "callback", NOW) == [1, 3]


@pytest.mark.parametrize("status", [Status.FAILED, Status.SUPPRESSED, Status.CANCELLED, Status.UNCLEAR])
def test_unsent_or_unclear_sms_can_be_retried_not_cancelled(status: Status) -> None:
    check_retry(1, status)
    with pytest.raises(OutboxError, match=f"SMS 1 is {status}; only queued SMS can be cancelled"):
        check_cancel(1, status)


@pytest.mark.parametrize("status", [Status.QUEUED, Status.SENDING, Status.SENT])
def test_other_sms_cannot_be_retried(status: Status) -> None:
    with pytest.raises(OutboxError, match=f"SMS 1 is {status}; only failed, suppressed, cancelled or unclear"):
        check_retry(1, status)


def test_a_missing_row_is_named() -> None:
    with pytest.raises(OutboxError, match="no SMS with id 9 in the outbox"):
        check_cancel(9, None)
    check_cancel(9, Status.QUEUED)
