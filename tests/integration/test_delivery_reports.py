"""Delivery reports in storage: duplicates, out of order, before the send's outcome, unknown ids, rates."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from pbx_sms.core.delivery import Delivery, DeliveryStatus
from pbx_sms.db.config_tables import Base
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION, Database
from pbx_sms.db.migrate import alembic_config
from pbx_sms.db.outbox_table import OutboxRecord
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.database import open_database
from pbx_sms.storage.delivery_reports import DeliveryRate, delivery_counts, delivery_rates, record_report

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
INDEX = "ix_outbox_status_last_attempt_at"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    yield db
    db.close()


def add_sms(
    db: Database,
    *,
    message_id: str | None,
    rule_id: int = 1,
    status: str = "sent",
    account_id: int = 1,
    at: datetime = T0,
    rule_name: str | None = None,
) -> int:
    """A row as the worker leaves it: sent at ``at`` (its last attempt) by smsapi as ``message_id``."""
    row = OutboxRecord(
        idempotency_key=str(uuid.uuid4()),
        account_id=account_id,
        rule_id=rule_id,
        rule_name=rule_name or f"rule {rule_id}",
        pbx="pbx",
        call_id=str(uuid.uuid4()),
        other_party="+48500100200",
        call_ended_at=T0,
        recipient="+48500100200",
        sender="Firma",
        text="Hello",
        encoding="gsm7",
        parts=1,
        to_other_party=True,
        min_interval_s=0,
        cancel_on_reach=False,
        status=status,
        scheduled_at=T0,
        due_at=T0,
        attempts=1,
        last_attempt_at=at,
        gateway="smsapi",
        message_id=message_id,
        created_at=T0,
        updated_at=T0,
    )
    with db.session() as session:
        session.add(row)
        session.flush()
        return row.id


def report(db: Database, message_id: str, status: str, at: datetime = T0, code: str | None = None) -> bool:
    with db.write_session() as session:
        return record_report(session, "smsapi", message_id, status, code, at)


def delivery(db: Database, sms_id: int) -> Delivery | None:
    row = SqlOutbox(db.engine).get(sms_id)
    assert row is not None
    return row.delivery


def test_a_duplicate_changes_nothing(database: Database) -> None:
    sms = add_sms(database, message_id="m1")
    assert report(database, "m1", "delivered", T0)
    assert not report(database, "m1", "delivered", T0 + timedelta(minutes=1))
    assert delivery(database, sms) == Delivery(status=DeliveryStatus.DELIVERED, at=T0, code=None)


def test_an_intermediate_after_a_final_is_ignored(database: Database) -> None:
    sms = add_sms(database, message_id="m2")
    assert report(database, "m2", "undelivered", T0, code="404")
    assert not report(database, "m2", "sent", T0 + timedelta(minutes=1))
    assert delivery(database, sms) == Delivery(status=DeliveryStatus.UNDELIVERED, at=T0, code="404")


def test_a_report_before_the_message_id_is_matched_later(database: Database) -> None:
    assert report(database, "early", "delivered")
    sms = add_sms(database, message_id=None)
    assert delivery(database, sms) is None
    with database.session() as session:
        session.get_one(OutboxRecord, sms).message_id = "early"
    assert delivery(database, sms) == Delivery(status=DeliveryStatus.DELIVERED, at=T0, code=None)


def test_a_report_for_an_unknown_message_is_kept(database: Database) -> None:
    assert report(database, "nobody", "sent")
    assert report(database, "nobody", "expired")
    sms = add_sms(database, message_id="nobody")
    assert delivery(database, sms) == Delivery(status=DeliveryStatus.EXPIRED, at=T0, code=None)


def test_rates_per_rule(database: Database) -> None:
    for message_id, status in [("a", "delivered"), ("b", "delivered"), ("c", "rejected")]:
        add_sms(database, message_id=message_id, rule_id=7)
        report(database, message_id, status)
    add_sms(database, message_id="pending", rule_id=7)
    add_sms(database, message_id="other", rule_id=8)
    with database.session() as session:
        rates = delivery_rates(session, 1, T0 - timedelta(days=1))
        later = delivery_rates(session, 1, T0 + timedelta(days=1))
    assert [(r.rule_id, r.sent, r.delivered, r.undelivered, r.pending) for r in rates] == [
        (7, 4, 2, 1, 1),
        (8, 1, 0, 0, 1),
    ]
    assert rates[0].rate == pytest.approx(2 / 3)
    assert rates[1].rate is None
    assert later == []


def test_delivery_counts_take_the_window_from_the_send_inclusive(database: Database) -> None:
    add_sms(database, message_id="w1")  # sent (last attempt) at T0
    report(database, "w1", "rejected")
    with database.session() as session:
        at_start = delivery_counts(session, T0)
        after = delivery_counts(session, T0 + timedelta(microseconds=1))
    assert at_start == {"delivered": 0, "undelivered": 0, "expired": 0, "rejected": 1, "unknown": 0}
    assert after == dict.fromkeys(at_start, 0)


def test_the_sent_window_has_its_index_going_down_and_up_with_migration_0015(
    database: Database, database_url: str
) -> None:
    def outbox_indexes() -> dict[str, list[str | None]]:
        return {index["name"]: index["column_names"] for index in inspect(database.engine).get_indexes("outbox")}

    assert outbox_indexes()["ix_outbox_status_last_attempt_at"] == ["status", "last_attempt_at"]
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [diff for diff in differences if INDEX in repr(diff)] == []
    with database.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
        command.downgrade(alembic_config(connection), "0014")
    assert INDEX not in outbox_indexes()
    open_database(database_url).close()  # up again
    assert INDEX in outbox_indexes()


def rows_of(rates: list[DeliveryRate]) -> list[tuple[int, str, int, int, int, int]]:
    return [(r.rule_id, r.rule_name, r.sent, r.delivered, r.undelivered, r.pending) for r in rates]


def test_rates_of_the_last_7_days_of_one_account(database: Database) -> None:
    since = T0 - timedelta(days=7)
    # Rule 3 of account 1, in the window: each final and intermediate kind once.
    for message_id, status in [
        ("ok1", "delivered"),
        ("ok2", "delivered"),
        ("ok3", "delivered"),
        ("bad", "undelivered"),
        ("exp", "expired"),
        ("rej", "rejected"),
        ("mid1", "sent"),
        ("mid2", "accepted"),
    ]:
        add_sms(database, message_id=message_id, rule_id=3, at=T0 - timedelta(days=1))
        report(database, message_id, status)
    add_sms(database, message_id="silent", rule_id=3, at=since)  # no report at all, and just in the window
    report(database, "mid1", "delivered")  # an intermediate then a final: delivered
    # Outside: older than 7 days, another account's, not sent, a report of another gateway's message.
    add_sms(database, message_id="old", rule_id=3, at=since - timedelta(seconds=1))
    report(database, "old", "delivered")
    add_sms(database, message_id="globex", rule_id=3, account_id=2)
    report(database, "globex", "undelivered")
    add_sms(database, message_id=None, rule_id=3, status="failed")
    with database.write_session() as session:
        record_report(session, "twilio", "ok1", "undelivered", None, T0)
    with database.session() as session:
        rates = delivery_rates(session, 1, since)
        other = delivery_rates(session, 2, since)
    assert rows_of(rates) == [(3, "rule 3", 9, 4, 3, 2)]
    assert rates[0].rate == pytest.approx(4 / 7)
    assert rows_of(other) == [(3, "rule 3", 1, 0, 1, 0)] and other[0].rate == 0.0


def test_an_intermediate_report_counts_as_pending_and_no_final_has_no_rate(database: Database) -> None:
    add_sms(database, message_id="q", rule_id=4)
    report(database, "q", "queued")
    add_sms(database, message_id="a", rule_id=4)
    report(database, "a", "accepted")
    with database.session() as session:
        (rate,) = delivery_rates(session, 1, T0 - timedelta(days=7))
    assert (rate.sent, rate.delivered, rate.undelivered, rate.pending, rate.rate) == (2, 0, 0, 2, None)


def test_a_renamed_rule_shows_the_name_of_its_latest_sms(database: Database) -> None:
    add_sms(database, message_id="n1", rule_id=5, rule_name="Zzz old name", at=T0 - timedelta(days=2))
    add_sms(database, message_id="n2", rule_id=5, rule_name="Aaa new name", at=T0 - timedelta(days=1))
    add_sms(database, message_id="n3", rule_id=6, rule_name="Other", at=T0)
    report(database, "n1", "delivered")
    with database.session() as session:
        rates = delivery_rates(session, 1, T0 - timedelta(days=7))
    assert rows_of(rates) == [(5, "Aaa new name", 2, 1, 0, 1), (6, "Other", 1, 0, 0, 1)]
