"""Re-planning one call's SMS (``Outbox.replan_call``), run against the in-memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from outbox_world import T0, MemoryWorld, SqlWorld, sms, sql_world

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.model import Sent

World = MemoryWorld | SqlWorld
LEASE_S = 30.0
CALLER = "+48601000001"
MANAGER = "+48600100100"
MISSED, THANKS = 1, 2
LATER = T0 + timedelta(minutes=5)


def states(world: World, call_id: str) -> dict[tuple[int, str], tuple[Status, Reason | None, str]]:
    return {
        (row.rule_id, row.to): (row.status, row.reason, row.text)
        for row in world.store.list()
        if row.call_id == call_id
    }


class ReplanContract:
    def test_the_better_plan_cancels_rewrites_and_adds_and_leaves_other_calls_alone(self, world: World) -> None:
        account = world.account()
        weaker = [
            sms(account, rule_id=MISSED, to=CALLER, call_id="c1", due_at=LATER, text="Sorry we missed you"),
            sms(account, rule_id=MISSED, to=MANAGER, other_party=CALLER, call_id="c1", due_at=LATER),
            sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=LATER, text="Thanks for 1 min"),
        ]
        other_call = sms(account, rule_id=MISSED, to=CALLER, call_id="c2", due_at=LATER)
        world.store.enqueue([*weaker, other_call], T0)
        better = [
            sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=LATER, text="Thanks for 3 min"),
            sms(account, rule_id=3, to=MANAGER, other_party=CALLER, call_id="c1", due_at=LATER, text="Talked 3 min"),
        ]
        report = world.store.replan_call("", "c1", better, T0 + timedelta(seconds=5))
        assert (report.cancelled_by_replan, report.rewritten, len(report.queued), report.gone_out) == (2, 1, 1, 0)
        assert states(world, "c1") == {
            (MISSED, CALLER): (Status.CANCELLED, Reason.REPLANNED, "Sorry we missed you"),
            (MISSED, MANAGER): (Status.CANCELLED, Reason.REPLANNED, "Dziękujemy za rozmowę"),
            (THANKS, CALLER): (Status.QUEUED, None, "Thanks for 3 min"),
            (3, MANAGER): (Status.QUEUED, None, "Talked 3 min"),
        }
        assert [row.status for row in world.store.list() if row.call_id == "c2"] == [Status.QUEUED]
        # Processing the call again (a crash after the re-plan) changes nothing and duplicates nothing.
        again = world.store.replan_call("", "c1", better, T0 + timedelta(seconds=6))
        assert (again.cancelled_by_replan, len(again.queued), again.duplicates) == (0, 0, 0)
        assert len(world.store.list()) == 5

    def test_a_due_row_no_worker_took_yet_is_still_replanned(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=T0)], T0)
        report = world.store.replan_call("", "c1", [], T0 + timedelta(seconds=1))
        assert report.cancelled_by_replan == 1
        assert world.store.claim_due("w1", T0 + timedelta(seconds=2), 10, LEASE_S) == []

    @pytest.mark.parametrize("sent", [False, True], ids=["sending", "sent"])
    def test_once_an_sms_of_the_call_went_out_the_better_view_is_only_recorded(self, world: World, sent: bool) -> None:
        account = world.account()
        world.store.enqueue(
            [
                sms(account, rule_id=MISSED, to=CALLER, call_id="c1", due_at=T0),
                sms(account, rule_id=MISSED, to=MANAGER, other_party=CALLER, call_id="c1", due_at=LATER),
            ],
            T0,
        )
        [going] = world.store.claim_due("w1", T0, 10, LEASE_S)
        if sent:
            world.store.apply("w1", [Sent(going.id, "log", "m-1")], T0)
        before = states(world, "c1")
        better = [sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=T0, text="Thanks")]
        report = world.store.replan_call("", "c1", better, T0 + timedelta(seconds=1))
        assert (report.gone_out, report.cancelled_by_replan, report.queued) == (1, 0, ())
        assert states(world, "c1") == before

    def test_a_suppressed_sms_is_not_queued_again_by_the_better_view(self, world: World) -> None:
        account = world.account()
        world.optout(CALLER)
        world.store.enqueue([sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=LATER)], T0)
        report = world.store.replan_call(
            "", "c1", [sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=LATER)], T0
        )
        assert (report.queued, report.duplicates, report.cancelled_by_replan) == ((), 0, 0)
        assert states(world, "c1")[(THANKS, CALLER)][:2] == (Status.SUPPRESSED, Reason.OPTED_OUT)

    def test_a_better_plan_that_suppresses_an_sms_cancels_the_queued_one(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=LATER)], T0)
        too_long = sms(account, rule_id=THANKS, to=CALLER, call_id="c1", due_at=LATER, reason=Reason.TOO_MANY_PARTS)
        report = world.store.replan_call("", "c1", [too_long], T0)
        assert report.cancelled_by_replan == 1
        assert states(world, "c1")[(THANKS, CALLER)][:2] == (Status.CANCELLED, Reason.REPLANNED)


class TestMemoryReplan(ReplanContract):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


class TestSqlReplan(ReplanContract):
    @pytest.fixture
    def world(self, database_url: str) -> Iterator[SqlWorld]:
        with sql_world(database_url) as world:
            yield world
