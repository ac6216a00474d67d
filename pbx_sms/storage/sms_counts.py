"""Counts for an account's status page: its SMS by status, its calls in a recent window."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pbx_sms.core.sms_status import Status
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.outbox_table import outbox_table


def sms_by_status(session: Session, account_id: int) -> dict[Status, int]:
    """How many of the account's SMS are in each status (every status, 0 when none)."""
    t = outbox_table
    counted = dict.fromkeys(Status, 0)
    query = select(t.c.status, func.count()).where(t.c.account_id == account_id).group_by(t.c.status)
    for status, count in session.execute(query):
        counted[Status(status)] = count
    return counted


def calls_since(session: Session, account_name: str, since: datetime) -> int:
    """The account's calls recorded since ``since`` (the call log names the account that owned the number)."""
    calls = calls_table
    query = select(func.count()).select_from(calls).where(calls.c.account == account_name, calls.c.received_at >= since)
    return session.scalar(query) or 0
