"""The call log: one row per completed call (PBX name, Asterisk Linkedid), its truth the best view of it.

The AMI listener and the AGI hangup hook may both report the same call; the primary key on
(``pbx``, ``call_id``) keeps one row, so one set of SMS results. The better evidence
(pbx_sms.core.views) is the row's truth, the other report is kept in ``other_view``. Rows reported by a
process that does not match rules itself (the AGI hook) wait with ``processed_at`` NULL until
the daemon picks them up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, false
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
    # How completely the call was seen: "full", "gap" (across a gap in the AMI stream) or "cdr" by the AMI
    # tracker, "hook" or "hint" by the hangup hook (pbx_sms.core.call.Evidence).
    evidence: Mapped[str] = mapped_column(String(4), server_default="full")
    # The other report of the call (JSON, pbx_sms.intake.views), NULL while there was one.
    other_view: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The two reports would be matched differently (direction, numbers, status or talk time).
    views_disagree: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    # A better view replaced the truth: processing re-plans the call's SMS (pbx_sms.outbox.flow.replan_call).
    replan: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    account: Mapped[str | None] = mapped_column(String(100), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_calls_processed_at", "processed_at"),
        Index("ix_calls_ended_at", "ended_at"),
    )


# The Core table, typed as a Table (``CallRecord.__table__`` is only a FromClause to type checkers).
calls_table = Base.metadata.tables[CallRecord.__tablename__]
