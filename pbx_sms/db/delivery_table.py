"""Delivery reports: the current delivery state of each message a gateway sent.

One row per (gateway, message_id), the gateway's name as the outbox stores it in ``outbox.gateway``
and the provider's id as in ``outbox.message_id``. No foreign key to the outbox: a report may come
before the send's outcome wrote the outbox row's message_id, and it is kept until it is matched at
read time (outbox.gateway, outbox.message_id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pbx_sms.db.config_tables import Base
from pbx_sms.db.types import UtcDateTime


class DeliveryReportRecord(Base):
    __tablename__ = "delivery_reports"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(50))
    message_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))
    # The provider's error code or text for this status (None when it gave none).
    code: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # When the report that set ``status`` was received (providers' own times are not reliable).
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # How many reports came for this message, duplicates included.
    reports: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("gateway", "message_id", name="uq_delivery_reports_gateway_message_id"),
        Index("ix_delivery_reports_received_at", "received_at"),
    )
