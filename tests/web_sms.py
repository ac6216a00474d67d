"""SMS rows for the web API tests, queued by the outbox store's own enqueue (as the daemon does)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from outbox_world import T0, sms
from sqlalchemy import update
from web_world import WebWorld

from pbx_sms.db.outbox_table import OutboxRecord
from pbx_sms.outbox.model import OutboxRow, Sent
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.delivery_reports import record_report
from pbx_sms.storage.users import account_id_of


def account_id(web: WebWorld, name: str) -> int:
    with web.database.session() as session:
        return account_id_of(session, name)


def queue_sms(web: WebWorld, account: str, *, at: datetime = T0, **extra: object) -> OutboxRow:
    """One SMS of ``account`` queued at ``at`` (its created_at), due a minute later."""
    outbox = SqlOutbox(web.database.engine)
    report = outbox.enqueue([sms(account_id(web, account), due_at=at + timedelta(minutes=1), **extra)], at)
    assert len(report.queued) == 1, report
    row = outbox.get(report.queued[0])
    assert row is not None
    return row


def mark_sent(
    web: WebWorld, row: OutboxRow, gateway: str, message_id: str, at: datetime = T0, status: str = "sent"
) -> None:
    """``row`` as the worker leaves it after the gateway took it (its id for delivery reports); ``status``
    another outcome with that id (a failed SMS that had one)."""
    with web.database.write_session() as session:
        session.execute(
            update(OutboxRecord)
            .where(OutboxRecord.id == row.id)
            .values(status=status, gateway=gateway, message_id=message_id, last_attempt_at=at, attempts=1)
        )


_recipients = itertools.count(1)


def sent_sms(web: WebWorld, account: str, *, at: datetime, message_id: str, **extra: object) -> int:
    """One SMS of ``account`` that went out at ``at`` through smsapi as ``message_id``, the way the worker
    leaves it (enqueued, claimed, its outcome applied); each to a number of its own (no interval limit).
    Call it before queuing SMS due by ``at``: the claim must take this one alone."""
    outbox = SqlOutbox(web.database.engine)
    to = f"+4860100{next(_recipients):04d}"
    report = outbox.enqueue([sms(account_id(web, account), due_at=at, to=to, **extra)], at)
    assert len(report.queued) == 1, report
    [row_id] = report.queued
    worker = f"delivery-seed-{row_id}"
    claimed = [row.id for row in outbox.claim_due(worker, at, 10, 30)]
    assert claimed == [row_id], claimed
    assert outbox.apply(worker, [Sent(row_id, "smsapi", message_id)], at) == 1
    return row_id


def delivery_report(
    web: WebWorld, message_id: str, status: str, at: datetime, *, gateway: str = "smsapi", code: str | None = None
) -> None:
    """The provider's callback for ``message_id``, recorded as the hook routes record it."""
    with web.database.write_session() as session:
        record_report(session, gateway, message_id, status, code, at)


def delivery_week(web: WebWorld, now: datetime) -> None:
    """SMS and their delivery reports for the delivery figures' tests. acme in the last 7 days: rule 1
    "Missed call" 5 sent (2 delivered, 1 undelivered, 1 only accepted, 1 with no report), rule 2 "Thanks"
    1 sent (expired); rule 1 also one delivered 8 days ago. globex: one delivered, in its rule 9."""
    day = timedelta(days=1)
    missed = {"rule_id": 1, "rule_name": "Missed call"}
    for message_id, status in [("d1", "delivered"), ("d2", "delivered"), ("u1", "undelivered"), ("p1", "accepted")]:
        sent_sms(web, "acme", at=now - 2 * day, message_id=message_id, **missed)
        delivery_report(web, message_id, status, now - day)
    sent_sms(web, "acme", at=now - day / 2, message_id="p2", **missed)
    sent_sms(web, "acme", at=now - 3 * day, message_id="t1", rule_id=2, rule_name="Thanks")
    delivery_report(web, "t1", "expired", now - day)
    sent_sms(web, "acme", at=now - 8 * day, message_id="old", **missed)
    delivery_report(web, "old", "delivered", now - 8 * day)
    sent_sms(web, "globex", at=now - day, message_id="g1", rule_id=9, rule_name="Globex secret")
    delivery_report(web, "g1", "delivered", now - day)
