"""SQLAlchemy models of the configuration database (see docs/schema.md for the admin's view).

List-valued rule fields (statuses, numbers, recipients) are comma-separated text so that an admin can
write a rule with a plain INSERT on SQLite and PostgreSQL alike; only the schedule, which is nested, is
JSON text. Every change to these tables bumps ``config_version`` through database triggers (created by
the migrations), so a running daemon notices CLI and hand-written SQL changes alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pbx_sms.core.bounds import ACCOUNT_NAME_MAX_CHARS, RULE_NAME_MAX_CHARS, SENDER_MAX_CHARS
from pbx_sms.core.clock import utc_now
from pbx_sms.db.types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Shared by every table of pbx-sms (the outbox, call log and heartbeat tables are in their own modules)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=func.current_timestamp(), default=utc_now
    )
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), server_default=func.current_timestamp(), default=utc_now, onupdate=utc_now
    )


class Account(TimestampMixin, Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(ACCOUNT_NAME_MAX_CHARS), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    # Comma-separated ISO codes the account may text (e.g. "DE,PL"); empty = its own country only.
    allowed_countries: Mapped[str] = mapped_column(String(400))
    sms_enabled: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)
    daily_cap: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # "HH:MM-HH:MM" on the account's wall clock (may cross midnight): no SMS goes out then. NULL = none.
    quiet_hours: Mapped[str | None] = mapped_column(String(20), nullable=True)

    __table_args__ = (CheckConstraint("daily_cap IS NULL OR daily_cap >= 0", name="daily_cap_not_negative"),)


class CompanyNumber(TimestampMixin, Base):
    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    e164: Mapped[str] = mapped_column(String(16), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)


class Sender(TimestampMixin, Base):
    __tablename__ = "senders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(SENDER_MAX_CHARS))

    __table_args__ = (UniqueConstraint("account_id", "sender"),)


class RuleRow(TimestampMixin, Base):
    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(RULE_NAME_MAX_CHARS))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)
    direction: Mapped[str] = mapped_column(String(3), server_default=sql_text("'any'"), default="any")
    statuses: Mapped[str] = mapped_column(String(100))
    numbers: Mapped[str] = mapped_column(Text, server_default=sql_text("'all'"), default="all")
    talk_min_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    talk_max_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    schedule: Mapped[str | None] = mapped_column(Text, nullable=True)
    sender: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[str] = mapped_column(Text, server_default=sql_text("'other_party'"), default="other_party")
    text: Mapped[str] = mapped_column(Text)
    delay_s: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"), default=0)
    min_interval_s: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"), default=0)
    max_parts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transliterate: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    # NULL: every call, whatever its evidence (full, gap, cdr).
    evidence: Mapped[str | None] = mapped_column(String(20), nullable=True)

    __table_args__ = (UniqueConstraint("account_id", "name"),)


class OptOut(TimestampMixin, Base):
    __tablename__ = "optouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    e164: Mapped[str] = mapped_column(String(16))
    # NULL = a global opt-out, for every account.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True)

    __table_args__ = (
        UniqueConstraint("account_id", "e164"),
        # NULLs are distinct in a unique constraint: one global row per number needs its own index.
        Index(
            "uq_optouts_global_e164",
            "e164",
            unique=True,
            sqlite_where=sql_text("account_id IS NULL"),
            postgresql_where=sql_text("account_id IS NULL"),
        ),
        Index("ix_optouts_e164", "e164"),
    )


class ConfigVersion(Base):
    """One row whose ``version`` goes up with every change to the configuration tables (by trigger)."""

    __tablename__ = "config_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default=sql_text("0"))


CONFIG_TABLES: tuple[str, ...] = ("accounts", "numbers", "senders", "rules", "optouts")
