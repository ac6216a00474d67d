"""The SMS log's reads on SQL: outbox rows with their delivery report, and the filter by delivery.

Reports are their own table (pbx_sms/db/delivery_table.py), matched to a row by gateway and message
id, so one outer join gives each row its report. The filter says in SQL what
``core.delivery.shown_delivery`` says in Python (the contract suite checks that both agree).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, and_, select

from pbx_sms.core.delivery import FINAL_DELIVERY_STATUSES, Delivery, DeliveryStatus
from pbx_sms.core.sms_status import Status
from pbx_sms.db.delivery_table import DeliveryReportRecord
from pbx_sms.outbox.model import OutboxRow
from pbx_sms.outbox.sql_rows import outbox_row, t

d = DeliveryReportRecord.__table__
_FINALS = sorted(status.value for status in FINAL_DELIVERY_STATUSES)


def select_logged() -> Select[Any]:
    """Every outbox column, plus the row's delivery report (NULLs when none came)."""
    joined = t.outerjoin(d, and_(d.c.gateway == t.c.gateway, d.c.message_id == t.c.message_id))
    return select(
        t,
        d.c.status.label("delivery_report"),
        d.c.received_at.label("delivery_at"),
        d.c.code.label("delivery_code"),
    ).select_from(joined)


def logged_row(m: RowMapping) -> OutboxRow:
    row = outbox_row(m)
    if m["delivery_report"] is None:
        return row
    return replace(row, delivery=Delivery(DeliveryStatus(m["delivery_report"]), m["delivery_at"], m["delivery_code"]))


def delivery_is(wanted: DeliveryStatus) -> ColumnElement[bool]:
    """Rows of ``select_logged`` whose shown delivery status is ``wanted``."""
    if wanted is DeliveryStatus.UNKNOWN:
        return and_(t.c.status == Status.SENT.value, (d.c.status.is_(None)) | (d.c.status.not_in(_FINALS)))
    if wanted not in FINAL_DELIVERY_STATUSES:
        raise ValueError(f"delivery {wanted.value!r}: the log shows only final statuses and unknown")
    return d.c.status == wanted.value
