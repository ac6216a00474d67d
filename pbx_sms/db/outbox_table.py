"""The outbox table (also the SMS log), on the configuration database's declarative Base.

No foreign keys to rules or accounts: the log outlives a deleted rule (it keeps the rule's name) and
is history, not configuration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from pbx_sms.core.sms_status import Status
from pbx_sms.db.config_tables import Base
from pbx_sms.db.types import UtcDateTime

NOTIFY_CHANNEL = "pbx_sms_outbox"
STATUS_VALUES = tuple(status.value for status in Status)


class OutboxRecord(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[int] = mapped_column(Integer)
    rule_id: Mapped[int] = mapped_column(Integer)
    rule_name: Mapped[str] = mapped_column(String(200))
    # The call is (pbx, call_id); a gateway local to one PBX sends only that PBX's rows.
    pbx: Mapped[str] = mapped_column(String(100))
    # Queued for the PBX's own gateway (the ami gateway): only that PBX's worker claims it.
    local_to_pbx: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    call_id: Mapped[str] = mapped_column(String(100))
    other_party: Mapped[str] = mapped_column(String(64))
    call_ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recipient: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    parts: Mapped[int] = mapped_column(Integer)
    to_other_party: Mapped[bool] = mapped_column(Boolean)
    min_interval_s: Mapped[int] = mapped_column(Integer)
    cancel_on_reach: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # scheduled_at: the original due time (retry age counts from it); due_at: the next attempt.
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    gateway: Mapped[str | None] = mapped_column(String(50), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Why the SMS goes out later than planned (quiet hours), with the time it was wanted at.
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Since when an attempt may have gone out unseen (status ``unclear``, or kept as history).
    unclear_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("rule_id", "pbx", "call_id", "recipient"),
        CheckConstraint("status IN " + str(STATUS_VALUES), name="status_known"),
        Index("ix_outbox_status_due_at", "status", "due_at"),
        Index("ix_outbox_status_locked_until", "status", "locked_until"),
        Index("ix_outbox_account_id_last_attempt_at", "account_id", "last_attempt_at"),
        Index("ix_outbox_rule_id_recipient_last_attempt_at", "rule_id", "recipient", "last_attempt_at"),
        # The minimum interval of a fixed recipient counts per caller (rule, recipient, other party).
        Index(
            "ix_outbox_rule_id_recipient_other_party_last_attempt_at",
            "rule_id",
            "recipient",
            "other_party",
            "last_attempt_at",
        ),
        Index("ix_outbox_account_id_other_party", "account_id", "other_party"),
        Index("ix_outbox_created_at", "created_at"),
        # The SMS a reply answers (pbx_sms/storage/replies.py).
        Index("ix_outbox_recipient_sender_last_attempt_at", "recipient", "sender", "last_attempt_at"),
        # Matches delivery reports to their SMS.
        Index("ix_outbox_gateway_message_id", "gateway", "message_id"),
        # The SMS sent in a recent window, of every account (pbx_sms/web/metrics.py; migration 0015).
        Index("ix_outbox_status_last_attempt_at", "status", "last_attempt_at"),
        # An account's SMS log, newest first, a page at a time (pbx_sms/outbox/sql.py; migration 0016).
        Index("ix_outbox_account_id_created_at_id", "account_id", "created_at", "id"),
    )


# The Core table, typed as a Table (``OutboxRecord.__table__`` is only a FromClause to type checkers).
outbox_table = Base.metadata.tables[OutboxRecord.__tablename__]
