"""The outbox's ``unclear`` SMS (an attempt that may have gone out), on the in-memory twin, SQLite and
PostgreSQL: it counts as sent for every limit, is attempted again when due, and an attempt cut short by a
crash is held for an operator unless the worker's gateway can send it again without risk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from outbox_world import T0, MemoryWorld, SqlWorld, sms, sql_world

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.claiming import held_for_operator
from pbx_sms.outbox.decisions import AccountLimits
from pbx_sms.outbox.model import OutboxRow, Released, RetryLater, Sent

World = MemoryWorld | SqlWorld
LEASE_S = 30.0
A = "+48601000001"
B = "+48601000002"


def stored(world: World, row_id: int) -> OutboxRow:
    row = world.store.get(row_id)
    assert row is not None
    return row


class UnclearContract:
    def test_an_unclear_attempt_counts_for_the_daily_cap_and_is_attempted_again(self, world: World) -> None:
        account = world.account(AccountLimits(daily_cap=1))
        world.store.enqueue([sms(account, to=A), sms(account, to=B)], T0)
        [first] = world.store.claim_due("w1", T0, 1, LEASE_S)
        retry_at = T0 + timedelta(seconds=10)
        world.store.apply("w1", [RetryLater(first.id, retry_at, "no answer, outcome unknown", T0)], T0)
        row = stored(world, first.id)
        assert (row.status, row.unclear_since, row.due_at) == (Status.UNCLEAR, T0, retry_at)
        # Before: the unclear row went back to queued and stopped counting, so B went out as well.
        assert world.store.claim_due("w1", T0 + timedelta(seconds=5), 10, LEASE_S) == []
        assert [row.reason for row in world.store.list(statuses=[Status.SUPPRESSED])] == [Reason.DAILY_CAP]
        assert world.store.next_due_at() == retry_at
        # Its own retry is not stopped by the cap it already counts toward; the gateway is told.
        [again] = world.store.claim_due("w1", retry_at, 10, LEASE_S)
        assert (again.id, again.attempts, again.outgoing().unclear_since) == (first.id, 2, T0)
        world.store.apply("w1", [Sent(again.id, "http", "m-1")], retry_at)
        assert stored(world, first.id).status == Status.SENT

    def test_an_unclear_attempt_counts_for_the_minimum_interval(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, to=A, min_interval_s=3600)], T0)
        [first] = world.store.claim_due("w1", T0, 1, LEASE_S)
        world.store.apply("w1", [RetryLater(first.id, T0 + timedelta(hours=2), "timeout", T0)], T0)
        later = T0 + timedelta(minutes=10)
        report = world.store.enqueue([sms(account, to=A, min_interval_s=3600, due_at=later)], later)
        assert [reason for _, reason in report.suppressed] == [Reason.MIN_INTERVAL]

    def test_an_unclear_row_handed_back_unsent_stays_unclear(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account)], T0)
        [row] = world.store.claim_due("w1", T0, 1, LEASE_S)
        world.store.apply("w1", [RetryLater(row.id, T0, "timeout", T0)], T0)
        [again] = world.store.claim_due("w1", T0, 1, LEASE_S)
        world.store.apply("w1", [Released(again.id, again.unclear_since)], T0)
        assert (stored(world, row.id).status, stored(world, row.id).attempts) == (Status.UNCLEAR, 1)

    def test_an_attempt_cut_short_is_held_for_an_operator_when_the_gateway_cannot_resend(self, world: World) -> None:
        account = world.account(AccountLimits(daily_cap=1))
        world.store.enqueue([sms(account, to=A)], T0)
        [cut] = world.store.claim_due("w1", T0, 1, LEASE_S)  # w1 is killed mid-send
        expired = T0 + timedelta(seconds=LEASE_S)
        assert world.store.claim_due("w2", expired, 10, LEASE_S, resend_interrupted=False) == []
        row = stored(world, cut.id)
        assert (row.status, row.reason, row.unclear_since, row.locked_by) == (
            Status.UNCLEAR,
            held_for_operator(cut.id),
            T0,
            None,
        )
        # Held: never due on its own, and it still counts.
        assert world.store.next_due_at() is None
        assert world.store.claim_due("w2", expired + timedelta(days=1, hours=-1), 10, LEASE_S) == []
        late = world.store.enqueue([sms(account, to=B)], expired)
        assert [reason for _, reason in late.suppressed] == [Reason.DAILY_CAP]
        # The operator decides: send it again.
        retried = world.store.retry(cut.id, expired)
        assert (retried.status, retried.reason, retried.unclear_since, retried.attempts) == (
            Status.QUEUED,
            None,
            None,
            0,
        )

    def test_an_attempt_cut_short_is_sent_again_by_a_gateway_that_can_tell(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account)], T0)
        [cut] = world.store.claim_due("w1", T0, 1, LEASE_S)
        expired = T0 + timedelta(seconds=LEASE_S)
        [again] = world.store.claim_due("w2", expired, 10, LEASE_S, resend_interrupted=True)
        assert (again.id, again.attempts, again.last_attempt_at) == (cut.id, 2, expired)
        assert again.outgoing().unclear_since == T0  # twilio looks up from then, also after a restart


class TestMemoryUnclear(UnclearContract):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


class TestSqlUnclear(UnclearContract):
    @pytest.fixture
    def world(self, database_url: str) -> Iterator[SqlWorld]:
        with sql_world(database_url) as world:
            yield world
