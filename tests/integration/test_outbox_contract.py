"""The Outbox contract, run against the in-memory twin, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from outbox_world import T0, MemoryWorld, SqlWorld, sms, sql_world
from sqlalchemy import text

from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.decisions import AccountLimits
from pbx_sms.outbox.model import ClaimScope, Failed, LogPosition, LogQuery, OutboxError, Released, RetryLater, Sent

World = MemoryWorld | SqlWorld
LEASE_S = 30.0
A = "+48601000001"
B = "+48601000002"
MANAGER = "+48600100100"


def claim_until_none_is_left(world: World, now: datetime, limit: int, workers: int = 4) -> list[int]:
    """The ids that ``workers`` claimers, started together, got until nothing was due; any error fails."""
    claimed: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def claim(worker: str) -> None:
        barrier.wait()
        try:
            while batch := world.store.claim_due(worker, now, limit, LEASE_S):
                claimed.extend(row.id for row in batch)
        except Exception as exc:  # a deadlock, a serialization failure: the test must say so
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return claimed


class OutboxContract:
    """Every test here runs on each store; subclasses provide the ``world`` fixture."""

    # --- queueing and claiming ---------------------------------------------------------------

    def test_row_is_claimed_only_once_due(self, world: World) -> None:
        account = world.account()
        report = world.store.enqueue([sms(account, due_at=T0 + timedelta(seconds=60))], T0)
        assert len(report.queued) == 1
        assert world.store.claim_due("w1", T0 + timedelta(seconds=59), 10, LEASE_S) == []
        [row] = world.store.claim_due("w1", T0 + timedelta(seconds=60), 10, LEASE_S)
        assert row.id == report.queued[0]
        assert row.status is Status.SENDING
        assert row.attempts == 1
        assert row.locked_by == "w1"
        assert row.locked_until == T0 + timedelta(seconds=60 + LEASE_S)
        assert row.text == "Dziękujemy za rozmowę"
        assert row.due_at.tzinfo is not None

    def test_same_rule_call_and_recipient_is_queued_once(self, world: World) -> None:
        account = world.account()
        first = sms(account, call_id="linked-1")
        report = world.store.enqueue([first], T0)
        again = world.store.enqueue([first, sms(account, call_id="linked-1", to=MANAGER, other_party=A)], T0)
        assert again.duplicates == 1
        assert len(again.queued) == 1
        assert len(world.store.list()) == 2
        assert report.queued[0] not in again.queued

    def test_the_same_linkedid_on_two_pbxs_is_two_calls_and_a_pbx_local_claim_takes_only_its_own(
        self, world: World
    ) -> None:
        account = world.account()
        of_a = sms(account, call_id="1795574778.16", pbx="pbx-a", due_at=T0)
        of_b = sms(account, call_id="1795574778.16", pbx="pbx-b", due_at=T0 - timedelta(seconds=10))
        assert len(world.store.enqueue([of_a, of_b], T0 - timedelta(seconds=60)).queued) == 2
        dongle_of_a = ClaimScope("pbx-a", local_gateway=True)
        assert world.store.next_due_at(dongle_of_a) == T0
        assert world.store.next_due_at() == T0 - timedelta(seconds=10)
        [mine] = world.store.claim_due("w-a", T0, 10, LEASE_S, scope=dongle_of_a)
        assert (mine.pbx, mine.call_id) == ("pbx-a", "1795574778.16")
        assert world.store.claim_due("w-a", T0, 10, LEASE_S, scope=dongle_of_a) == []
        [theirs] = world.store.claim_due("w-any", T0, 10, LEASE_S)  # a gateway of no PBX in particular
        assert theirs.pbx == "pbx-b"

    def test_an_sms_queued_for_a_pbxs_own_gateway_never_leaves_through_another_pbxs_provider(
        self, world: World
    ) -> None:
        account = world.account()
        for_dongle_of_a = sms(account, to=A, pbx="pbx-a", local_to_pbx=True, due_at=T0)
        via_provider_of_a = sms(account, to=B, pbx="pbx-a", due_at=T0 + timedelta(seconds=1))
        of_b = sms(account, to=MANAGER, pbx="pbx-b", local_to_pbx=True, due_at=T0 + timedelta(seconds=2))
        world.store.enqueue([for_dongle_of_a, via_provider_of_a, of_b], T0 - timedelta(seconds=60))
        provider_of_b = ClaimScope("pbx-b", local_gateway=False)
        later = T0 + timedelta(seconds=5)
        # B's HTTP worker: its own rows (also those queued for its dongle before a gateway change) and
        # A's rows that are not bound to A's dongle; never A's dongle rows.
        assert world.store.next_due_at(provider_of_b) == T0 + timedelta(seconds=1)
        claimed = world.store.claim_due("w-b", later, 10, LEASE_S, scope=provider_of_b)
        assert sorted((row.pbx, row.to) for row in claimed) == [("pbx-a", B), ("pbx-b", MANAGER)]
        assert world.store.next_due_at(provider_of_b) == later + timedelta(seconds=LEASE_S)  # leases only
        [dongle_row] = world.store.claim_due("w-a", later, 10, LEASE_S, scope=ClaimScope("pbx-a", local_gateway=True))
        assert (dongle_row.pbx, dongle_row.to, dongle_row.local_to_pbx) == ("pbx-a", A, True)

    def test_idempotency_keys_are_random_uuids(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account) for _ in range(5)], T0)
        keys = {row.idempotency_key for row in world.store.list()}
        assert len(keys) == 5
        assert all(uuid.UUID(key).version == 4 for key in keys)

    def test_claim_takes_earliest_first_and_respects_limit(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, due_at=T0 + timedelta(seconds=s)) for s in (3, 1, 2)], T0)
        claimed = world.store.claim_due("w1", T0 + timedelta(seconds=5), 2, LEASE_S)
        assert [row.due_at for row in claimed] == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
        [last] = world.store.claim_due("w1", T0 + timedelta(seconds=5), 2, LEASE_S)
        assert last.due_at == T0 + timedelta(seconds=3)

    # --- the claim limit counts rows handed out -------------------------------------------------

    def test_a_row_opted_out_after_queueing_does_not_use_up_the_limit(self, world: World) -> None:
        account = world.account()
        first, second = world.store.enqueue([sms(account, to=A), sms(account, to=B)], T0).queued
        world.optout(A)
        [claimed] = world.store.claim_due("w1", T0, 1, LEASE_S)
        assert claimed.id == second
        row = world.store.get(first)
        assert row and (row.status, row.reason) == (Status.SUPPRESSED, Reason.OPTED_OUT)

    def test_the_limit_reaches_past_several_suppressed_rows(self, world: World) -> None:
        # More suppressed rows than one batch of ``limit`` holds, due before the ones that may go.
        account = world.account()
        blocked = [f"+4860100010{i}" for i in range(5)]
        world.store.enqueue([sms(account, to=to, due_at=T0 - timedelta(seconds=10)) for to in blocked], T0)
        world.store.enqueue([sms(account, to=to) for to in (A, B, MANAGER)], T0)
        for to in blocked:
            world.optout(to)
        claimed = world.store.claim_due("w1", T0, 2, LEASE_S)
        assert [row.to for row in claimed] == [A, B]
        assert {row.to for row in world.store.list(statuses=[Status.SUPPRESSED])} == set(blocked)
        assert [row.to for row in world.store.list(statuses=[Status.QUEUED])] == [MANAGER]

    def test_due_rows_go_by_due_time_then_by_id(self, world: World) -> None:
        account = world.account()
        later, earlier = T0 + timedelta(seconds=2), T0 + timedelta(seconds=1)
        ids = world.store.enqueue(
            [
                sms(account, to=A, due_at=later),
                sms(account, to=B, due_at=earlier),
                sms(account, to=MANAGER, due_at=later),
            ],
            T0,
        ).queued
        claimed = [world.store.claim_due("w1", later, 1, LEASE_S)[0].id for _ in ids]
        assert claimed == [ids[1], ids[0], ids[2]]

    def test_an_expired_lease_is_claimed_again_within_the_same_limit(self, world: World) -> None:
        account = world.account()
        [stale] = world.store.enqueue([sms(account, to=A, due_at=T0)], T0).queued
        world.store.claim_due("w1", T0, 1, LEASE_S)  # w1 dies mid-send
        later = T0 + timedelta(seconds=LEASE_S)
        fresh = world.store.enqueue([sms(account, to=B, due_at=later), sms(account, to=MANAGER, due_at=later)], T0)
        claimed = world.store.claim_due("w2", later, 2, LEASE_S)
        assert [(row.id, row.attempts) for row in claimed] == [(stale, 2), (fresh.queued[0], 1)]
        assert [row.id for row in world.store.list(statuses=[Status.QUEUED])] == [fresh.queued[1]]

    def test_leased_row_is_not_claimed_again_until_the_lease_expires(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account)], T0)
        [first] = world.store.claim_due("w1", T0, 10, LEASE_S)
        assert world.store.claim_due("w2", T0 + timedelta(seconds=LEASE_S - 1), 10, LEASE_S) == []
        [again] = world.store.claim_due("w2", T0 + timedelta(seconds=LEASE_S), 10, LEASE_S)
        assert again.id == first.id
        assert again.idempotency_key == first.idempotency_key
        assert again.attempts == 2
        assert again.locked_by == "w2"
        # The first worker lost its lease: its late report must not overwrite the new holder's.
        assert world.store.apply("w1", [Sent(first.id, "http", "late")], T0 + timedelta(seconds=LEASE_S + 1)) == 0
        assert world.store.apply("w2", [Sent(first.id, "http", "m-2")], T0 + timedelta(seconds=LEASE_S + 1)) == 1
        row = world.store.get(first.id)
        assert row is not None
        assert (row.status, row.message_id, row.locked_by) == (Status.SENT, "m-2", None)

    # --- outcomes ------------------------------------------------------------------------------

    def test_outcomes_are_recorded(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account) for _ in range(4)], T0)
        rows = world.store.claim_due("w1", T0, 10, LEASE_S)
        later = T0 + timedelta(seconds=90)
        now = T0 + timedelta(seconds=1)
        applied = world.store.apply(
            "w1",
            [
                Sent(rows[0].id, "http", "msg-1"),
                RetryLater(rows[1].id, later, "HTTP 503: busy"),
                Failed(rows[2].id, "permanent: HTTP 400: bad number"),
                Released(rows[3].id),
            ],
            now,
        )
        assert applied == 4
        sent, retried, failed, released = (world.store.get(row.id) for row in rows)
        assert sent and (sent.status, sent.gateway, sent.message_id) == (Status.SENT, "http", "msg-1")
        assert retried and (retried.status, retried.due_at, retried.last_error) == (
            Status.QUEUED,
            later,
            "HTTP 503: busy",
        )
        assert retried.attempts == 1 and retried.locked_by is None
        assert failed and (failed.status, failed.reason) == (Status.FAILED, "permanent: HTTP 400: bad number")
        # Handed back unsent: its attempt is not counted.
        assert released and (released.status, released.due_at, released.attempts) == (Status.QUEUED, now, 0)
        assert world.store.next_due_at() == now

    def test_next_due_at_covers_queued_rows_and_expiring_leases(self, world: World) -> None:
        account = world.account()
        assert world.store.next_due_at() is None
        world.store.enqueue([sms(account, due_at=T0), sms(account, due_at=T0 + timedelta(hours=1))], T0)
        assert world.store.next_due_at() == T0
        world.store.claim_due("w1", T0, 1, LEASE_S)
        assert world.store.next_due_at() == T0 + timedelta(seconds=LEASE_S)

    # --- limits: at enqueue and at claim ------------------------------------------------------

    def test_matcher_suppression_is_stored_with_its_reason(self, world: World) -> None:
        account = world.account()
        report = world.store.enqueue([sms(account, to="anonymous", reason=Reason.ANONYMOUS)], T0)
        assert report.queued == ()
        [(row_id, reason)] = report.suppressed
        assert reason == "anonymous"
        row = world.store.get(row_id)
        assert row and (row.status, row.reason) == (Status.SUPPRESSED, "anonymous")
        assert world.store.claim_due("w1", T0, 10, LEASE_S) == []

    def test_inactive_service_suppresses_at_enqueue_and_at_claim(self, world: World) -> None:
        off = world.account(AccountLimits(sms_enabled=False))
        report = world.store.enqueue([sms(off)], T0)
        assert [reason for _, reason in report.suppressed] == [Reason.SERVICE_INACTIVE]
        on = world.account()
        [queued] = world.store.enqueue([sms(on)], T0).queued
        world.set_limits(on, AccountLimits(sms_enabled=False))
        assert world.store.claim_due("w1", T0, 10, LEASE_S) == []
        row = world.store.get(queued)
        assert row and (row.status, row.reason) == (Status.SUPPRESSED, Reason.SERVICE_INACTIVE)

    def test_opt_outs_per_account_and_global(self, world: World) -> None:
        account, other = world.account(), world.account()
        world.optout(A, account_id=account)
        world.optout(MANAGER)
        report = world.store.enqueue([sms(account, to=A), sms(account, to=MANAGER), sms(other, to=A)], T0)
        assert sorted(reason for _, reason in report.suppressed) == [Reason.OPTED_OUT, Reason.OPTED_OUT]
        [allowed] = report.queued
        row = world.store.get(allowed)
        assert row and (row.account_id, row.to) == (other, A)

    def test_opt_out_after_queueing_suppresses_at_claim(self, world: World) -> None:
        account = world.account()
        [row_id] = world.store.enqueue([sms(account, to=B)], T0).queued
        world.optout(B)
        assert world.store.claim_due("w1", T0, 10, LEASE_S) == []
        row = world.store.get(row_id)
        assert row and (row.status, row.reason) == (Status.SUPPRESSED, Reason.OPTED_OUT)

    def test_daily_cap_counts_sent_sms_of_the_local_day(self, world: World) -> None:
        # Warsaw is UTC+1 in March: the local day of T0 (09:00 UTC) began at 23:00 UTC the day before.
        account = world.account(AccountLimits(daily_cap=2, timezone="Europe/Warsaw"))
        yesterday_local = datetime(2026, 3, 9, 22, 30, tzinfo=UTC)
        world.store.enqueue([sms(account, due_at=yesterday_local)], yesterday_local)
        [old] = world.store.claim_due("w1", yesterday_local, 10, LEASE_S)
        world.store.apply("w1", [Sent(old.id, "log", None)], yesterday_local)
        report = world.store.enqueue([sms(account, to=f"+4860100000{i}") for i in range(3)], T0)
        assert len(report.queued) == 3
        claimed = world.store.claim_due("w1", T0, 10, LEASE_S)
        assert len(claimed) == 2
        [capped] = world.store.list(statuses=[Status.SUPPRESSED])
        assert capped.reason == Reason.DAILY_CAP
        # A full cap also stops new SMS at the door.
        late = world.store.enqueue([sms(account, to=B)], T0 + timedelta(hours=1))
        assert [reason for _, reason in late.suppressed] == [Reason.DAILY_CAP]
        # The next local day starts afresh (23:00 UTC = midnight in Warsaw).
        tomorrow = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
        assert len(world.store.enqueue([sms(account, to=B, due_at=tomorrow)], T0).queued) == 1

    def test_min_interval_counts_per_rule_recipient_and_caller(self, world: World) -> None:
        account = world.account()
        first = sms(account, to=A, min_interval_s=3600)
        to_manager = {"to": MANAGER, "to_other_party": False, "min_interval_s": 3600}
        world.store.enqueue([first, sms(account, other_party=A, **to_manager)], T0)
        assert len(world.store.claim_due("w1", T0, 10, LEASE_S)) == 2
        later = T0 + timedelta(minutes=30)
        report = world.store.enqueue(
            [
                sms(account, to=A, min_interval_s=3600, due_at=later),
                # The manager heard of caller A half an hour ago (before: heard again, every time) ...
                sms(account, other_party=A, due_at=later, **to_manager),
                # ... but hears of caller B.
                sms(account, other_party=B, due_at=later, **to_manager),
                sms(account, rule_id=2, to=A, min_interval_s=3600, due_at=later),
            ],
            later,
        )
        assert [reason for _, reason in report.suppressed] == [Reason.MIN_INTERVAL, Reason.MIN_INTERVAL]
        queued = [world.store.get(row_id) for row_id in report.queued]
        assert [(row.rule_id, row.to, row.other_party) for row in queued if row] == [(1, MANAGER, B), (2, A, A)]
        after = T0 + timedelta(seconds=3600)
        again = [sms(account, to=A, min_interval_s=3600, due_at=after), sms(account, other_party=A, **to_manager)]
        assert len(world.store.enqueue(again, after).queued) == 2

    def test_fixed_recipient_interval_holds_within_one_claim_batch(self, world: World) -> None:
        account = world.account()
        # One caller calls twice a second apart: the manager is told once; another caller is told too.
        to_manager = {"to": MANAGER, "to_other_party": False, "min_interval_s": 600}
        world.store.enqueue([sms(account, other_party=A, due_at=T0, **to_manager)], T0)
        world.store.enqueue([sms(account, other_party=A, due_at=T0 + timedelta(seconds=1), **to_manager)], T0)
        world.store.enqueue([sms(account, other_party=B, due_at=T0 + timedelta(seconds=1), **to_manager)], T0)
        claimed = world.store.claim_due("w1", T0 + timedelta(seconds=2), 10, LEASE_S)
        assert [row.other_party for row in claimed] == [A, B]

    def test_min_interval_holds_within_one_claim_batch(self, world: World) -> None:
        account = world.account()
        # Two missed calls a minute apart: both queued, only the first one goes out.
        world.store.enqueue([sms(account, to=A, min_interval_s=600, due_at=T0)], T0)
        world.store.enqueue([sms(account, to=A, min_interval_s=600, due_at=T0 + timedelta(seconds=1))], T0)
        claimed = world.store.claim_due("w1", T0 + timedelta(seconds=2), 10, LEASE_S)
        assert [row.due_at for row in claimed] == [T0]
        [suppressed] = world.store.list(statuses=[Status.SUPPRESSED])
        assert suppressed.reason == Reason.MIN_INTERVAL

    def test_cap_holds_under_concurrent_claimers(self, world: World) -> None:
        account = world.account(AccountLimits(daily_cap=7, timezone="UTC"))
        world.store.enqueue([sms(account, to=f"+486010{i:05d}") for i in range(40)], T0)
        claimed: list[int] = []
        barrier = threading.Barrier(4)

        def claim(worker: str) -> None:
            barrier.wait()
            for _ in range(20):
                claimed.extend(row.id for row in world.store.claim_due(worker, T0, 3, LEASE_S))

        threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(claimed) == len(set(claimed)) == 7
        assert len(world.store.list(statuses=[Status.SUPPRESSED])) == 33

    def test_concurrent_claimers_never_share_a_row(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, to=f"+486011{i:05d}") for i in range(60)], T0)
        every = claim_until_none_is_left(world, T0, 4)
        assert len(every) == len(set(every)) == 60

    def test_concurrent_claimers_over_many_accounts_with_suppressions_hand_out_each_row_once(
        self, world: World
    ) -> None:
        # Claims that reach past suppressed rows take several batches, each with other accounts.
        accounts = [world.account() for _ in range(6)]
        numbers = [f"+486012{i:05d}" for i in range(120)]
        world.store.enqueue(
            [sms(accounts[i % 6], to=to, due_at=T0 + timedelta(milliseconds=i)) for i, to in enumerate(numbers)], T0
        )
        blocked = {to for i, to in enumerate(numbers) if i % 4 in (1, 2)}
        for to in blocked:
            world.optout(to)
        every = claim_until_none_is_left(world, T0 + timedelta(seconds=1), 3)
        assert len(every) == len(set(every)) == 60
        assert {row.to for row in world.store.list(statuses=[Status.SUPPRESSED])} == blocked
        assert world.store.list(statuses=[Status.QUEUED]) == []

    # --- cancelling ---------------------------------------------------------------------------

    def test_answered_call_cancels_pending_sms_for_that_party(self, world: World) -> None:
        account, other = world.account(), world.account()
        due = T0 + timedelta(minutes=10)
        ended = T0
        report = world.store.enqueue(
            [
                sms(account, to=A, cancel_on_reach=True, due_at=due, call_ended_at=ended),
                sms(
                    account,
                    to=MANAGER,
                    other_party=A,
                    to_other_party=False,
                    cancel_on_reach=True,
                    due_at=due,
                    call_ended_at=ended,
                ),
                sms(account, to=B, cancel_on_reach=True, due_at=due, call_ended_at=ended),
                sms(account, rule_id=3, to=A, cancel_on_reach=False, due_at=due, call_ended_at=ended),
                sms(other, to=A, cancel_on_reach=True, due_at=due, call_ended_at=ended),
            ],
            T0,
        )
        assert len(report.queued) == 5
        assert world.store.cancel_reached(account, A, "answered-call", T0 + timedelta(minutes=2), pbx="pbx-1") == 2
        cancelled = world.store.list(statuses=[Status.CANCELLED])
        assert {(row.to, row.reason) for row in cancelled} == {(A, Reason.REACHED_PERSON), (MANAGER, "reached_person")}
        assert len(world.store.list(statuses=[Status.QUEUED])) == 3

    def test_an_earlier_answered_call_cancels_nothing(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, to=A, cancel_on_reach=True, call_ended_at=T0)], T0)
        assert world.store.cancel_reached(account, A, "older-call", T0 - timedelta(minutes=5), pbx="pbx-1") == 0

    def test_admin_cancel_and_retry(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account), sms(account)], T0)
        first, second = world.store.claim_due("w1", T0, 1, LEASE_S) + world.store.list(statuses=[Status.QUEUED])
        with pytest.raises(OutboxError, match="only queued"):
            world.store.cancel(first.id, T0)
        cancelled = world.store.cancel(second.id, T0)
        assert (cancelled.status, cancelled.reason) == (Status.CANCELLED, Reason.CANCELLED_BY_ADMIN)
        world.store.apply("w1", [Failed(first.id, "permanent: HTTP 400")], T0)
        later = T0 + timedelta(hours=2)
        retried = world.store.retry(first.id, later)
        assert (retried.status, retried.due_at, retried.attempts, retried.reason) == (Status.QUEUED, later, 0, None)
        assert retried.idempotency_key == first.idempotency_key
        with pytest.raises(OutboxError, match="only failed"):
            world.store.retry(first.id, later)
        with pytest.raises(OutboxError, match="no SMS with id 999999"):
            world.store.cancel(999999, T0)

    # --- the SMS log --------------------------------------------------------------------------

    def test_list_filters_newest_first(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, to=A)], T0)
        world.store.enqueue([sms(account, to=B)], T0 + timedelta(minutes=1))
        world.store.enqueue([sms(account, to=MANAGER, other_party=A, to_other_party=False)], T0 + timedelta(minutes=2))
        assert [row.to for row in world.store.list()] == [MANAGER, B, A]
        assert [row.to for row in world.store.list(number=A)] == [MANAGER, A]
        assert [row.to for row in world.store.list(since=T0 + timedelta(minutes=1))] == [MANAGER, B]
        assert [row.to for row in world.store.list(limit=1)] == [MANAGER]
        assert world.store.list(statuses=[Status.SENT]) == []

    def test_log_filters_by_account_rule_and_window_and_continues_after_a_position(self, world: World) -> None:
        ours, theirs = world.account(), world.account()
        world.store.enqueue([sms(ours, to=A, rule_id=1)], T0)
        world.store.enqueue([sms(ours, to=B, rule_id=2), sms(ours, to=MANAGER, rule_id=1)], T0 + timedelta(minutes=1))
        world.store.enqueue([sms(theirs, to=A, rule_id=1)], T0 + timedelta(minutes=2))
        rows = world.store.log(LogQuery(account_id=ours))
        assert [row.to for row in rows] == [MANAGER, B, A]  # same created_at: the higher id first
        assert [row.to for row in world.store.log(LogQuery(account_id=ours, rule_name="rule 1"))] == [MANAGER, A]
        window = LogQuery(account_id=ours, since=T0, until=T0 + timedelta(minutes=1))
        assert [row.to for row in world.store.log(window)] == [A]
        after = LogPosition(rows[0].created_at, rows[0].id)
        assert [row.to for row in world.store.log(LogQuery(account_id=ours, after=after, limit=1))] == [B]

    def test_the_log_shows_and_filters_by_the_delivery_report(self, world: World) -> None:
        account = world.account()
        world.store.enqueue([sms(account, to=to) for to in (A, B, MANAGER, "+48601000004")], T0)
        world.store.enqueue([sms(account, to="+48601000005")], T0)  # stays queued: nothing to deliver
        delivered, undelivered, intermediate, silent = world.store.claim_due("w1", T0, 4, LEASE_S)
        sent = [Sent(row.id, "twilio", f"SM{row.id}") for row in (delivered, undelivered, intermediate, silent)]
        world.store.apply("w1", sent, T0 + timedelta(seconds=1))
        at = T0 + timedelta(minutes=1)
        world.report("twilio", f"SM{delivered.id}", DeliveryStatus.DELIVERED, None, at)
        world.report("twilio", f"SM{undelivered.id}", DeliveryStatus.UNDELIVERED, "30003", at)
        world.report("twilio", f"SM{intermediate.id}", DeliveryStatus.SENT, None, at)
        world.report("other", f"SM{silent.id}", DeliveryStatus.DELIVERED, None, at)  # another gateway's id

        def shown(delivery: DeliveryStatus) -> list[int]:
            return sorted(row.id for row in world.store.log(LogQuery(account_id=account, delivery=delivery)))

        assert shown(DeliveryStatus.DELIVERED) == [delivered.id]
        assert shown(DeliveryStatus.UNDELIVERED) == [undelivered.id]
        assert shown(DeliveryStatus.UNKNOWN) == sorted([intermediate.id, silent.id])
        assert shown(DeliveryStatus.EXPIRED) == []
        statuses = {row.to: row.delivery_status for row in world.store.log(LogQuery(account_id=account))}
        assert statuses == {
            A: DeliveryStatus.DELIVERED,
            B: DeliveryStatus.UNDELIVERED,
            MANAGER: DeliveryStatus.UNKNOWN,
            "+48601000004": DeliveryStatus.UNKNOWN,
            "+48601000005": None,
        }
        report = world.store.get(undelivered.id)
        assert report is not None and report.delivery is not None
        assert (report.delivery.status, report.delivery.code, report.delivery.at) == (
            DeliveryStatus.UNDELIVERED,
            "30003",
            at,
        )
        kept = world.store.get(intermediate.id)
        assert kept is not None and kept.delivery is not None and kept.delivery.status is DeliveryStatus.SENT


class TestMemoryOutbox(OutboxContract):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


class TestSqlOutbox(OutboxContract):
    @pytest.fixture
    def world(self, database_url: str) -> Iterator[SqlWorld]:
        with sql_world(database_url) as world:
            yield world

    def test_a_rule_deleted_with_plain_sql_cancels_its_queued_sms_not_those_being_sent(self, world: SqlWorld) -> None:
        account = world.account()
        with world.database.engine.begin() as conn:
            rule_id = conn.execute(
                text(
                    "INSERT INTO rules (account_id, name, direction, statuses, numbers, sender, recipients, text) "
                    "VALUES (:account, 'Missed call (SQL)', 'in', 'no_answer', 'all', 'ACME', 'other_party', 'Sorry')"
                    " RETURNING id"
                ),
                {"account": account},
            ).scalar_one()
        later = T0 + timedelta(days=1)
        world.store.enqueue(
            [sms(account, rule_id=rule_id, to=A), sms(account, rule_id=rule_id, to=B, due_at=later)], T0
        )
        world.store.enqueue([sms(account, rule_id=rule_id + 1, to=A, due_at=later)], T0)
        [being_sent] = world.store.claim_due("w1", T0, 10, LEASE_S)
        with world.database.engine.begin() as conn:
            conn.execute(text("DELETE FROM rules WHERE id = :id"), {"id": rule_id})
        by_rule_and_number = {(row.rule_id, row.to): (row.status, row.reason) for row in world.store.list()}
        assert by_rule_and_number == {
            (rule_id, A): (Status.SENDING, None),
            (rule_id, B): (Status.CANCELLED, Reason.RULE_DELETED),
            (rule_id + 1, A): (Status.QUEUED, None),
        }
        assert being_sent.to == A
