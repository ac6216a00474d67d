"""From a completed call and the matcher's plan to outbox rows; cancel-on-reach by a later answered call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from outbox_world import T0, MemoryWorld

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.matching import PlannedSms
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.enqueue import enqueue_call

CALLER = "+48601234567"
RULE_IDS = {"Missed call": 5, "Thank you": 6}
PBX = "pbx-1"


def call(call_id: str, status: str, ended_minutes: float, direction: str = "in") -> CompletedCall:
    ended = T0 + timedelta(minutes=ended_minutes)
    return CompletedCall(call_id, direction, "+48221234567", CALLER, status, 0, ended - timedelta(seconds=30), ended)  # type: ignore[arg-type]


def planned(
    rule: str,
    *,
    reason: Reason | None = None,
    delay_s: int = 600,
    cancel_on_reach: bool = True,
    to: str = CALLER,
    ended_minutes: float = 0,
) -> PlannedSms:
    return PlannedSms(
        rule=rule,
        to=to,
        sender="ACME",
        text="Oddzwonimy wkrótce",
        encoding="UCS-2",
        parts=1,
        due_at=T0 + timedelta(minutes=ended_minutes, seconds=delay_s),
        reason=reason,
        to_other_party=to == CALLER,
        min_interval_s=3600,
        cancel_on_reach=cancel_on_reach,
    )


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


def test_planned_sms_become_rows_with_the_calls_and_rules_details(world: MemoryWorld) -> None:
    account = world.account()
    report = enqueue_call(world.store, call("c1", "no_answer", 0), PBX, account, [planned("Missed call")], RULE_IDS, T0)
    [row] = world.store.list()
    assert report.queued == (row.id,)
    assert (row.rule_id, row.rule_name, row.call_id, row.other_party, row.to) == (
        5,
        "Missed call",
        "c1",
        CALLER,
        CALLER,
    )
    assert (row.call_ended_at, row.due_at, row.min_interval_s, row.cancel_on_reach) == (
        T0,
        T0 + timedelta(minutes=10),
        3600,
        True,
    )
    assert (row.text, row.encoding, row.parts, row.sender) == ("Oddzwonimy wkrótce", "UCS-2", 1, "ACME")


def test_matcher_suppressions_are_logged_as_suppressed(world: MemoryWorld) -> None:
    account = world.account()
    plan = [planned("Missed call", reason=Reason.LANDLINE, to="+48221112233")]
    report = enqueue_call(world.store, call("c1", "no_answer", 0), PBX, account, plan, RULE_IDS, T0)
    [row] = world.store.list()
    assert report.suppressed == ((row.id, "landline"),)
    assert (row.status, row.reason) == (Status.SUPPRESSED, "landline")


def test_processing_the_same_call_twice_adds_nothing(world: MemoryWorld) -> None:
    account = world.account()
    missed = call("c1", "no_answer", 0)
    enqueue_call(world.store, missed, PBX, account, [planned("Missed call")], RULE_IDS, T0)
    again = enqueue_call(world.store, missed, PBX, account, [planned("Missed call")], RULE_IDS, T0)
    assert (again.queued, again.duplicates) == ((), 1)
    assert len(world.store.list()) == 1


@pytest.mark.parametrize("direction", ["in", "out"])
def test_a_later_answered_call_cancels_the_pending_missed_call_sms(world: MemoryWorld, direction: str) -> None:
    account = world.account()
    enqueue_call(world.store, call("c1", "no_answer", 0), PBX, account, [planned("Missed call")], RULE_IDS, T0)
    # The company calls back (or the caller tries again) and a person answers, with no rule of its own.
    report = enqueue_call(
        world.store, call("c2", "answered", 3, direction), PBX, account, [], RULE_IDS, T0 + timedelta(minutes=3)
    )
    assert report.cancelled_by_reach == 1
    [row] = world.store.list()
    assert (row.status, row.reason) == (Status.CANCELLED, Reason.REACHED_PERSON)


def test_an_unanswered_later_call_cancels_nothing(world: MemoryWorld) -> None:
    account = world.account()
    enqueue_call(world.store, call("c1", "no_answer", 0), PBX, account, [planned("Missed call")], RULE_IDS, T0)
    report = enqueue_call(world.store, call("c2", "busy", 3), PBX, account, [], RULE_IDS, T0)
    assert report.cancelled_by_reach == 0
    assert world.store.list()[0].status is Status.QUEUED


def test_a_rule_without_an_id_is_a_clear_programming_error(world: MemoryWorld) -> None:
    with pytest.raises(KeyError, match="rule 'Ghost' of account 1 has no id"):
        enqueue_call(world.store, call("c1", "no_answer", 0), PBX, 1, [planned("Ghost")], RULE_IDS, T0)
