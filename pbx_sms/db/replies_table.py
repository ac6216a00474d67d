"""Replies: SMS received from the numbers we texted (the providers' inbound webhooks).

One row per provider message (unique (provider, message_id): a webhook delivered twice stores one
reply). ``sms_id`` is the SMS it answers (the latest sent to that number from that sender before
it came) and ``account_id`` that SMS's account; both NULL for a reply that answers nothing we sent.
No foreign keys, like the outbox: replies are history and outlive a pruned SMS or a removed account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pbx_sms.db.config_tables import Base
from pbx_sms.db.types import UtcDateTime


class ReplyRecord(Base):
    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str] = mapped_column(String(200))
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sms_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The whole text was an opt-out keyword (the number was added to the account's opt-outs).
    opt_out: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        UniqueConstraint("provider", "message_id", name="uq_replies_provider_message_id"),
        Index("ix_replies_sms_id", "sms_id"),
        Index("ix_replies_received_at", "received_at"),
    )
