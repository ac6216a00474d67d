"""Outbox rows to and from SQL: the table typed for SQLAlchemy Core, insert values, result rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

from pbx_sms.core.sms_status import COUNTS_AS_SENT, Status
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.outbox.claiming import DueRow
from pbx_sms.outbox.decisions import NewRow
from pbx_sms.outbox.model import OutboxRow

t = outbox_table
# Rows that count as sent for caps and intervals (being sent or unclear counts: it may have gone out).
COUNTED = tuple(sorted(status.value for status in COUNTS_AS_SENT))
DUE_COLUMNS = (
    t.c.id,
    t.c.status,
    t.c.due_at,
    t.c.account_id,
    t.c.rule_id,
    t.c.recipient,
    t.c.to_other_party,
    t.c.min_interval_s,
    t.c.other_party,
    t.c.last_attempt_at,
    t.c.unclear_since,
)


def insert_values(row: NewRow, now: datetime) -> dict[str, Any]:
    item = row.sms
    return {
        "idempotency_key": str(uuid.uuid4()),
        "account_id": item.account_id,
        "rule_id": item.rule_id,
        "rule_name": item.rule_name,
        "pbx": item.pbx,
        "local_to_pbx": item.local_to_pbx,
        "call_id": item.call_id,
        "other_party": item.other_party,
        "call_ended_at": item.call_ended_at,
        "recipient": item.to,
        "sender": item.sender,
        "text": item.text,
        "encoding": item.encoding,
        "parts": item.parts,
        "to_other_party": item.to_other_party,
        "min_interval_s": item.min_interval_s,
        "cancel_on_reach": item.cancel_on_reach,
        "status": row.status.value,
        "reason": str(row.reason) if row.reason is not None else None,
        "scheduled_at": row.due_at,
        "due_at": row.due_at,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "note": row.hold.note if row.hold is not None else None,
    }


def due_row(m: RowMapping) -> DueRow:
    return DueRow(
        id=m["id"],
        status=Status(m["status"]),
        due_at=m["due_at"],
        account_id=m["account_id"],
        rule_id=m["rule_id"],
        to=m["recipient"],
        to_other_party=bool(m["to_other_party"]),
        min_interval_s=m["min_interval_s"],
        other_party=m["other_party"],
        last_attempt_at=m["last_attempt_at"],
        unclear_since=m["unclear_since"],
    )


def outbox_row(m: RowMapping) -> OutboxRow:
    return OutboxRow(
        id=m["id"],
        idempotency_key=m["idempotency_key"],
        account_id=m["account_id"],
        rule_id=m["rule_id"],
        rule_name=m["rule_name"],
        pbx=m["pbx"],
        local_to_pbx=bool(m["local_to_pbx"]),
        call_id=m["call_id"],
        other_party=m["other_party"],
        call_ended_at=m["call_ended_at"],
        to=m["recipient"],
        sender=m["sender"],
        text=m["text"],
        encoding=m["encoding"],
        parts=m["parts"],
        to_other_party=bool(m["to_other_party"]),
        min_interval_s=m["min_interval_s"],
        cancel_on_reach=bool(m["cancel_on_reach"]),
        status=Status(m["status"]),
        reason=m["reason"],
        scheduled_at=m["scheduled_at"],
        due_at=m["due_at"],
        attempts=m["attempts"],
        locked_by=m["locked_by"],
        locked_until=m["locked_until"],
        last_attempt_at=m["last_attempt_at"],
        last_error=m["last_error"],
        gateway=m["gateway"],
        message_id=m["message_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        note=m["note"],
        unclear_since=m["unclear_since"],
    )


def as_utc(value: datetime | str) -> datetime:
    """An aggregate's datetime: func.min/max lose the column type on SQLite, which returns the text."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
