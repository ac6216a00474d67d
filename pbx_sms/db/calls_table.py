"""The call log: one row per completed call (PBX name, Asterisk Linkedid), whoever reported it first.

The AMI listener and the AGI hangup hook may both report the same call; the primary key on
(``pbx``, ``call_id``) makes the first report win, so only one set of SMS results. Rows reported by a
process that does not match rules itself (the AGI hook) wait with ``processed_at`` NULL until
the daemon picks them up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pbx_sms.db.config_tables import Base
from pbx_sms.db.types import UtcDateTime


class CallRecord(Base):
    __tablename__ = "calls"

    # Two Asterisk servers can produce the same Linkedid: the PBX's name (PBX_SMS_PBX_NAME) tells them apart.
    pbx: Mapped[str] = mapped_column(String(100), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10))
    number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    other_party: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    talk_s: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str] = mapped_column(String(10))  # "ami" or "agi"
    # How completely the call was seen: "full", "gap" (across a gap in the AMI stream) or "cdr".
    evidence: Mapped[str] = mapped_column(String(4), server_default="full")
    account: Mapped[str | None] = mapped_column(String(100), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_calls_processed_at", "processed_at"),
        Index("ix_calls_ended_at", "ended_at"),
    )


# The Core table, typed as a Table (``CallRecord.__table__`` is only a FromClause to type checkers).
calls_table = Base.metadata.tables[CallRecord.__tablename__]
