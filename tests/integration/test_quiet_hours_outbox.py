"""Quiet hours in the outbox, on the in-memory twin, SQLite and PostgreSQL: no SMS goes out inside them.

Held at enqueue (a delay_s that ends at night), and again at claim (a retry, a daemon that was down, an
expired lease): the row waits, queued, for the window's end, without using up an attempt.
Warsaw is UTC+1 in March: quiet hours 21:00-08:00 there are 20:00-07:00 UTC.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from outbox_world import MemoryWorld, SqlWorld, sms, sql_world

from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.db.config_tables import Account
from pbx_sms.outbox.decisions import AccountLimits
from pbx_sms.outbox.model import RetryLater, Sent
from pbx_sms.storage.accounts import stored_quiet_hours

World = MemoryWorld | SqlWorld
WARSAW = "Europe/Warsaw"
LEASE_S = 30.0
A = "+48601000001"
B = "+48601000002"
EVENING = datetime(2026, 3, 10, 19, 0, tzinfo=UTC)  # 20:00 in Warsaw: not quiet yet
NIGHT = datetime(2026, 3, 10, 21, 15, tzinfo=UTC)  # 22:15 in Warsaw
MORNING = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)  # 08:00 in Warsaw: the window's end
NOTE = "quiet hours 21:00-08:00 (Europe/Warsaw): held from 2026-03-10T22:15+01:00 until 2026-03-11T08:00+01:00"


def set_quiet_hours(world: World, account_id: int, text: str | None, *, daily_cap: int | None = None) -> None:
    if isinstance(world, MemoryWorld):
        quiet = QuietHours.parse(text) if text else None
        world.set_limits(account_id, AccountLimits(daily_cap=daily_cap, timezone=WARSAW, quiet_hours=quiet))
        return
    with world.database.session() as session:
        account = session.get(Account, account_id)
        assert account is not None
        account.timezone = WARSAW
        account.daily_cap = daily_cap
        account.quiet_hours = text


def quiet_account(world: World, text: str = "21:00-08:00", *, daily_cap: int | None = None) -> int:
    account_id = world.account(AccountLimits(timezone=WARSAW))
    set_quiet_hours(world, account_id, text, daily_cap=daily_cap)
    return account_id


class QuietHoursContract:
    # --- at enqueue ----------------------------------------------------------------------------

    def test_sms_due_inside_quiet_hours_waits_for_their_end(self, world: World) -> None:
        account = quiet_account(world)
        report = world.store.enqueue([sms(account, due_at=NIGHT)], NIGHT - timedelta(seconds=60))
        [row_id] = report.queued
        assert report.held == ((row_id, MORNING),)
        row = world.store.get(row_id)
        assert row is not None
        assert (row.status, row.due_at, row.scheduled_at, row.attempts) == (Status.QUEUED, MORNING, MORNING, 0)
        assert row.note == NOTE
        assert world.store.next_due_at() == MORNING
        assert world.store.claim_due("w1", MORNING - timedelta(seconds=1), 10, LEASE_S) == []
        [claimed] = world.store.claim_due("w1", MORNING, 10, LEASE_S)
        assert (claimed.id, claimed.attempts) == (row_id, 1)
        world.store.apply("w1", [Sent(row_id, "log", "m-1")], MORNING)
        sent = world.store.get(row_id)
        assert sent is not None and (sent.status, sent.note) == (Status.SENT, NOTE)  # the log says why it was late

    def test_sms_due_outside_quiet_hours_is_untouched(self, world: World) -> None:
        account = quiet_account(world)
        report = world.store.enqueue([sms(account, due_at=EVENING)], EVENING)
        [row_id] = report.queued
        assert report.held == ()
        row = world.store.get(row_id)
        assert row is not None and (row.due_at, row.scheduled_at, row.note) == (EVENING, EVENING, None)
        assert [row.id for row in world.store.claim_due("w1", EVENING, 10, LEASE_S)] == [row_id]

    def test_a_window_within_the_day(self, world: World) -> None:
        account = quiet_account(world, "13:00-15:00")
        lunch = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)  # 13:30 in Warsaw
        [row_id] = world.store.enqueue([sms(account, due_at=lunch)], lunch).queued
        row = world.store.get(row_id)
        assert row is not None and row.due_at == datetime(2026, 3, 10, 14, 0, tzinfo=UTC)

    def test_an_sms_queued_late_at_night_for_a_past_due_time_is_held_too(self, world: World) -> None:
        # The call ended at 19:58 Warsaw, but its report arrived at 22:15 (AGI backlog, a restart).
        account = quiet_account(world)
        due = datetime(2026, 3, 10, 18, 58, tzinfo=UTC)
        [row_id] = world.store.enqueue([sms(account, due_at=due)], NIGHT).queued
        row = world.store.get(row_id)
        assert row is not None and (row.due_at, row.note) == (MORNING, NOTE)

    def test_a_night_due_time_queued_the_next_morning_goes_at_once(self, world: World) -> None:
        account = quiet_account(world)
        late = MORNING + timedelta(hours=1)
        [row_id] = world.store.enqueue([sms(account, due_at=NIGHT)], late).queued
        row = world.store.get(row_id)
        assert row is not None and (row.due_at, row.note) == (NIGHT, None)
        assert [row.id for row in world.store.claim_due("w1", late, 10, LEASE_S)] == [row_id]

    def test_matcher_suppressed_sms_are_not_held(self, world: World) -> None:
        account = quiet_account(world)
        report = world.store.enqueue([sms(account, to="anonymous", reason=Reason.ANONYMOUS, due_at=NIGHT)], NIGHT)
        [(row_id, _)] = report.suppressed
        row = world.store.get(row_id)
        assert row is not None and (row.status, row.due_at, row.note) == (Status.SUPPRESSED, NIGHT, None)

    def test_daily_cap_is_that_of_the_day_the_held_sms_goes_out(self, world: World) -> None:
        account = quiet_account(world, daily_cap=1)
        world.store.enqueue([sms(account, to=A, due_at=EVENING)], EVENING)
        [first] = world.store.claim_due("w1", EVENING, 10, LEASE_S)
        world.store.apply("w1", [Sent(first.id, "log", None)], EVENING)
        # Today's cap is used up, but this one goes out tomorrow morning: queued, not suppressed.
        report = world.store.enqueue([sms(account, to=B, due_at=NIGHT)], NIGHT)
        assert report.suppressed == () and len(report.queued) == 1
        assert [row.to for row in world.store.claim_due("w1", MORNING, 10, LEASE_S)] == [B]

    def test_accounts_without_quiet_hours_send_at_night(self, world: World) -> None:
        quiet, plain = quiet_account(world), world.account(AccountLimits(timezone=WARSAW))
        world.store.enqueue([sms(quiet, to=A, due_at=NIGHT), sms(plain, to=B, due_at=NIGHT)], NIGHT)
        assert [row.to for row in world.store.claim_due("w1", NIGHT, 10, LEASE_S)] == [B]

    # --- at claim ------------------------------------------------------------------------------

    def test_a_row_due_before_the_night_but_claimed_in_it_waits_without_an_attempt(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        # The daemon was down from 20:00 to 22:15 Warsaw.
        account = quiet_account(world)
        [row_id] = world.store.enqueue([sms(account, due_at=EVENING)], EVENING).queued
        with caplog.at_level(logging.INFO):
            assert world.store.claim_due("w1", NIGHT, 10, LEASE_S) == []
        assert f"SMS {row_id} not sent now: {NOTE}" in caplog.text
        row = world.store.get(row_id)
        assert row is not None
        assert (row.status, row.due_at, row.attempts, row.locked_by) == (Status.QUEUED, MORNING, 0, None)
        assert row.scheduled_at == EVENING  # retry age still counts from when it was due
        assert row.note == NOTE
        assert world.store.next_due_at() == MORNING
        [claimed] = world.store.claim_due("w1", MORNING, 10, LEASE_S)
        assert (claimed.id, claimed.attempts) == (row_id, 1)

    def test_a_retry_that_falls_in_the_night_waits_without_an_attempt(self, world: World) -> None:
        account = quiet_account(world)
        [row_id] = world.store.enqueue([sms(account, due_at=EVENING)], EVENING).queued
        world.store.claim_due("w1", EVENING, 10, LEASE_S)
        world.store.apply("w1", [RetryLater(row_id, NIGHT, "HTTP 503: gateway down")], EVENING)
        assert world.store.claim_due("w1", NIGHT, 10, LEASE_S) == []
        row = world.store.get(row_id)
        assert row is not None
        assert (row.status, row.due_at, row.attempts, row.last_error) == (
            Status.QUEUED,
            MORNING,
            1,
            "HTTP 503: gateway down",
        )
        [claimed] = world.store.claim_due("w1", MORNING, 10, LEASE_S)
        assert claimed.attempts == 2

    def test_an_expired_lease_in_the_night_is_not_sent_again_until_morning(self, world: World) -> None:
        account = quiet_account(world)
        just_before = datetime(2026, 3, 10, 19, 59, 50, tzinfo=UTC)  # 20:59:50 Warsaw
        [row_id] = world.store.enqueue([sms(account, due_at=just_before)], just_before).queued
        [first] = world.store.claim_due("w1", just_before, 10, LEASE_S)  # w1 dies mid-send
        after_expiry = just_before + timedelta(seconds=LEASE_S + 5)
        assert world.store.claim_due("w2", after_expiry, 10, LEASE_S) == []
        row = world.store.get(row_id)
        assert row is not None
        # It may have gone out: it waits as unclear (still counted), from the attempt cut short.
        assert (row.status, row.due_at, row.attempts, row.locked_by, row.locked_until, row.unclear_since) == (
            Status.UNCLEAR,
            MORNING,
            1,
            None,
            None,
            just_before,
        )
        # The dead worker's late report no longer applies; the morning send reuses the key.
        assert world.store.apply("w1", [Sent(row_id, "log", "late")], after_expiry) == 0
        [again] = world.store.claim_due("w2", MORNING, 10, LEASE_S)
        assert (again.idempotency_key, again.attempts, again.unclear_since) == (first.idempotency_key, 2, just_before)

    def test_quiet_hours_set_after_queueing_hold_at_claim(self, world: World) -> None:
        account = world.account(AccountLimits(timezone=WARSAW))
        [row_id] = world.store.enqueue([sms(account, due_at=NIGHT)], EVENING).queued
        set_quiet_hours(world, account, "21:00-08:00")
        assert world.store.claim_due("w1", NIGHT, 10, LEASE_S) == []
        row = world.store.get(row_id)
        assert row is not None and (row.due_at, row.note) == (MORNING, NOTE)
        # ... and removing them lets the row go at its (new) due time, not before.
        set_quiet_hours(world, account, None)
        assert world.store.claim_due("w1", MORNING - timedelta(seconds=1), 10, LEASE_S) == []
        assert len(world.store.claim_due("w1", MORNING, 10, LEASE_S)) == 1

    def test_held_rows_do_not_block_other_accounts_rows_in_the_same_claim(self, world: World) -> None:
        quiet, plain = quiet_account(world), world.account()
        world.store.enqueue([sms(quiet, to=A, due_at=EVENING), sms(plain, to=B, due_at=EVENING)], EVENING)
        [claimed] = world.store.claim_due("w1", NIGHT, 10, LEASE_S)
        assert claimed.to == B
        [held] = world.store.list(statuses=[Status.QUEUED])
        assert (held.to, held.due_at) == (A, MORNING)

    def test_held_rows_do_not_count_toward_the_claim_limit(self, world: World) -> None:
        quiet, plain = quiet_account(world), world.account()
        early = EVENING - timedelta(minutes=1)
        world.store.enqueue([sms(quiet, to=f"+4860100020{i}", due_at=early) for i in range(3)], early)
        world.store.enqueue([sms(plain, to=A, due_at=EVENING), sms(plain, to=B, due_at=EVENING)], EVENING)
        assert [row.to for row in world.store.claim_due("w1", NIGHT, 2, LEASE_S)] == [A, B]
        held = world.store.list(statuses=[Status.QUEUED])
        assert [(row.account_id, row.due_at) for row in held] == [(quiet, MORNING)] * 3

    def test_a_callback_before_the_morning_cancels_the_held_missed_call_sms(self, world: World) -> None:
        account = quiet_account(world)
        [row_id] = world.store.enqueue(
            [sms(account, to=A, due_at=NIGHT, call_ended_at=NIGHT, cancel_on_reach=True)], NIGHT
        ).queued
        assert world.store.cancel_reached(account, A, "callback", MORNING - timedelta(minutes=30), pbx="pbx-1") == 1
        row = world.store.get(row_id)
        assert row is not None and (row.status, row.reason) == (Status.CANCELLED, Reason.REACHED_PERSON)


class TestMemoryQuietHours(QuietHoursContract):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


class TestSqlQuietHours(QuietHoursContract):
    @pytest.fixture
    def world(self, database_url: str) -> Iterator[SqlWorld]:
        with sql_world(database_url) as world:
            yield world

    def test_a_hand_written_invalid_value_is_logged_and_ignored(
        self, world: SqlWorld, caplog: pytest.LogCaptureFixture
    ) -> None:
        stored_quiet_hours.cache_clear()  # it logs once per process and value
        account = quiet_account(world, "9pm-8am")
        world.store.enqueue([sms(account, to=A, due_at=NIGHT)], NIGHT)
        assert [row.to for row in world.store.claim_due("w1", NIGHT, 10, LEASE_S)] == [A]
        assert "accounts.quiet_hours: quiet hours '9pm-8am': expected \"HH:MM-HH:MM\"" in caplog.text


def test_a_call_at_night_is_queued_for_the_morning_and_logged(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The daemon's path: call intake → rules → outbox, with the account's quiet hours from the database."""
    from pbx_sms.core.call import CompletedCall
    from pbx_sms.core.rulefile import parse_rule_text
    from pbx_sms.intake.service import CallIntake
    from pbx_sms.outbox.sql import SqlOutbox
    from pbx_sms.storage.accounts import AccountChanges, update_account
    from pbx_sms.storage.config_cache import ConfigCache
    from pbx_sms.storage.database import open_database
    from pbx_sms.storage.numbers import add_sender
    from pbx_sms.storage.rule_store import RuleSource, import_rules

    rules = """
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer]}
    then: {sender: ACME, to: [other_party], text: "Oddzwonimy", delay_s: 60}
"""
    database = open_database(database_url, timezone=WARSAW, country="PL")
    try:
        with database.write_session() as session:
            add_sender(session, "ACME", "default")
            import_rules(session, [RuleSource("r.yaml", "default", parse_rule_text(rules).rules)])
            update_account(session, "default", AccountChanges(quiet_hours="21:00-08:00"))
        outbox = SqlOutbox(database.engine)
        intake = CallIntake(
            database, outbox, ConfigCache(database, check_interval_s=0), pbx="pbx-1", clock=lambda: NIGHT
        )
        ended = NIGHT - timedelta(seconds=60)
        call = CompletedCall("night.1", "in", "+48221234567", A, "no_answer", 0, ended - timedelta(seconds=20), ended)
        with caplog.at_level(logging.INFO):
            outcome = intake.submit(call, "ami")
        assert outcome is not None
        [row_id] = outcome.report.queued
        row = outbox.get(row_id)
        assert row is not None and (row.due_at, row.note) == (MORNING, NOTE)
        assert (
            f"call night.1: SMS {row_id} held by the account's quiet hours until {MORNING.isoformat()}" in caplog.text
        )
    finally:
        database.close()
