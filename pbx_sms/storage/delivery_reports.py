"""Delivery reports: record what the providers' callbacks say, and sum them up per rule.

A report is recorded under (gateway, message_id) whether or not an outbox row has that id yet (a
report may come before the send's outcome is written); it is matched to the outbox at read time by
outbox.gateway and outbox.message_id (the SMS log's reads: pbx_sms/outbox/sql_log.py). Which
report wins is core.delivery.supersedes's decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pbx_sms.core.delivery import (
    NOT_DELIVERED_STATUSES,
    SHOWN_DELIVERY_STATUSES,
    DeliveryFigures,
    DeliveryStatus,
    shown_delivery,
    supersedes,
)
from pbx_sms.core.sms_status import Status
from pbx_sms.db.delivery_table import DeliveryReportRecord
from pbx_sms.db.outbox_table import OutboxRecord

logger = logging.getLogger(__name__)

MAX_MESSAGE_ID_CHARS = 200
MAX_CODE_CHARS = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRate(DeliveryFigures):
    """One rule's figures (``rule_name``: the name its latest SMS in the window was sent under)."""

    rule_id: int
    rule_name: str


def record_report(
    session: Session, gateway: str, message_id: str, status: str, code: str | None, received_at: datetime
) -> bool:
    """Record one report; True if it changed the stored state (a duplicate or a stale one does not)."""
    new = DeliveryStatus(status)
    message_id = message_id[:MAX_MESSAGE_ID_CHARS]
    code = code[:MAX_CODE_CHARS] if code else None
    # Insert-or-ignore first so concurrent duplicates meet one row, then update it under a lock.
    values = {
        "gateway": gateway,
        "message_id": message_id,
        "status": new.value,
        "code": code,
        "received_at": received_at,
        "reports": 1,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(DeliveryReportRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["gateway", "message_id"])
        .returning(DeliveryReportRecord.id)
    ).scalar_one_or_none()
    if inserted is not None:
        logger.info("delivery report: %s message %s is %s (first report)", gateway, message_id, new.value)
        return True
    row = session.execute(
        select(DeliveryReportRecord)
        .where(DeliveryReportRecord.gateway == gateway, DeliveryReportRecord.message_id == message_id)
        .with_for_update()
    ).scalar_one()
    row.reports += 1
    changed = supersedes(new, DeliveryStatus(row.status))
    if changed:
        row.status, row.code, row.received_at = new.value, code, received_at
    session.flush()
    logger.info(
        "delivery report: %s message %s reported %s, now %s (%d reports)",
        gateway,
        message_id,
        new.value,
        row.status,
        row.reports,
    )
    return changed


def _joined_on_outbox() -> ColumnElement[bool]:
    return and_(
        DeliveryReportRecord.gateway == OutboxRecord.gateway,
        DeliveryReportRecord.message_id == OutboxRecord.message_id,
    )


def delivery_rates(session: Session, account_id: int, since: datetime) -> list[DeliveryRate]:
    """Per rule of the account: SMS sent since ``since`` and how many were delivered, not, or pending.

    An SMS counts by when it went out (its last attempt); pending is sent with no final report yet
    (none at all, or only intermediate ones). The rule's name is the one the outbox stored with its
    latest SMS: a rule renamed in the window shows its newer name, a rule removed since still has its row.
    """
    not_delivered = [status.value for status in NOT_DELIVERED_STATUSES]
    delivered = func.sum(case((DeliveryReportRecord.status == DeliveryStatus.DELIVERED.value, 1), else_=0))
    undelivered = func.sum(case((DeliveryReportRecord.status.in_(not_delivered), 1), else_=0))
    # Grouped by name too, so that each name's latest SMS can pick the rule's name (in any database).
    query = (
        select(
            OutboxRecord.rule_id,
            OutboxRecord.rule_name,
            func.max(OutboxRecord.last_attempt_at),
            func.count(OutboxRecord.id),
            delivered,
            undelivered,
        )
        .outerjoin(DeliveryReportRecord, _joined_on_outbox())
        .where(
            OutboxRecord.account_id == account_id,
            OutboxRecord.status == Status.SENT.value,
            OutboxRecord.last_attempt_at >= since,
        )
        .group_by(OutboxRecord.rule_id, OutboxRecord.rule_name)
    )
    names: dict[int, tuple[datetime, str]] = {}
    counts: dict[int, tuple[int, int, int]] = {}
    for rule_id, rule_name, latest, sent, delivered_count, undelivered_count in session.execute(query):
        if rule_id not in names or latest > names[rule_id][0]:
            names[rule_id] = (latest, rule_name)
        before = counts.get(rule_id, (0, 0, 0))
        counts[rule_id] = (
            before[0] + int(sent),
            before[1] + int(delivered_count or 0),
            before[2] + int(undelivered_count or 0),
        )
    return [
        DeliveryRate(
            rule_id=rule_id,
            rule_name=names[rule_id][1],
            sent=sent,
            delivered=delivered_count,
            undelivered=undelivered_count,
            pending=sent - delivered_count - undelivered_count,
        )
        for rule_id, (sent, delivered_count, undelivered_count) in sorted(counts.items())
    ]


# What a sent SMS's delivery is counted as: what the SMS log shows (core.delivery.shown_delivery).
COUNTED_DELIVERY_STATUSES = SHOWN_DELIVERY_STATUSES


def counted_as(report_status: str | None) -> DeliveryStatus:
    """The counted delivery status of a sent SMS whose stored report says ``report_status`` (None: none)."""
    shown = shown_delivery(DeliveryStatus(report_status) if report_status is not None else None, sent=True)
    assert shown is not None  # a sent SMS always shows a delivery status
    return shown


def delivery_counts(session: Session, since: datetime) -> dict[str, int]:
    """SMS of every account sent since ``since`` (their last attempt), by delivery status: every status
    of ``COUNTED_DELIVERY_STATUSES``, 0 when none. At most one row per stored report status comes back."""
    query = (
        select(DeliveryReportRecord.status, func.count(OutboxRecord.id))
        .select_from(OutboxRecord)
        .outerjoin(DeliveryReportRecord, _joined_on_outbox())
        .where(OutboxRecord.status == Status.SENT.value, OutboxRecord.last_attempt_at >= since)
        .group_by(DeliveryReportRecord.status)
    )
    counts = dict.fromkeys((status.value for status in COUNTED_DELIVERY_STATUSES), 0)
    for report_status, count in session.execute(query):
        counts[counted_as(report_status).value] += count
    return counts


def reports_received_since(session: Session, since: datetime) -> int:
    """Messages whose stored delivery state was set by a report received since ``since`` (duplicates and
    stale reports, which change nothing, are not counted), matched to an SMS or not."""
    query = select(func.count()).select_from(DeliveryReportRecord).where(DeliveryReportRecord.received_at >= since)
    return session.scalar(query) or 0
