"""Heartbeat rows of running daemons, so `pbx-sms status` works from another process or host."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pbx_sms.db.config_tables import Base
from pbx_sms.db.types import UtcDateTime


class DaemonStatusRecord(Base):
    __tablename__ = "daemon_status"

    instance: Mapped[str] = mapped_column(String(150), primary_key=True)
    host: Mapped[str] = mapped_column(String(100))
    # The PBX the daemon serves (NULL on rows written before migration 0006).
    pbx: Mapped[str | None] = mapped_column(String(100), nullable=True)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ami_state: Mapped[str] = mapped_column(String(30))
    # JSON: listener and worker counters, last error (never secrets).
    details: Mapped[str] = mapped_column(Text)


# The Core table, typed as a Table (``DaemonStatusRecord.__table__`` is only a FromClause to type checkers).
status_table = Base.metadata.tables[DaemonStatusRecord.__tablename__]
