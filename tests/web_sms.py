"""SMS rows for the web API tests, queued by the outbox store's own enqueue (as the daemon does)."""

from __future__ import annotations

from datetime import datetime, timedelta

from outbox_world import T0, sms
from web_world import WebWorld

from pbx_sms.outbox.model import OutboxRow
from pbx_sms.outbox.sql import SqlOutbox
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
