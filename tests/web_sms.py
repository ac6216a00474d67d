"""SMS rows for the web API tests, queued by the outbox store's own enqueue (as the daemon does)."""

from __future__ import annotations

from datetime import datetime, timedelta

from outbox_world import T0, sms
from sqlalchemy import update
from web_world import WebWorld

from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.db.outbox_table import OutboxRecord
from pbx_sms.outbox.model import OutboxRow
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


def mark_sent(web: WebWorld, row: OutboxRow, gateway: str, message_id: str, at: datetime = T0) -> None:
    """``row`` as the worker leaves it after the gateway took it (its id for delivery reports)."""
    with web.database.write_session() as session:
        session.execute(
            update(OutboxRecord)
            .where(OutboxRecord.id == row.id)
            .values(status="sent", gateway=gateway, message_id=message_id, last_attempt_at=at, attempts=1)
        )


def report_delivery(
    web: WebWorld, gateway: str, message_id: str, status: DeliveryStatus, code: str | None = None, at: datetime = T0
) -> None:
    """A provider's delivery report, stored as the callbacks store it."""
    with web.database.write_session() as session:
        record_report(session, gateway, message_id, status.value, code, at)
