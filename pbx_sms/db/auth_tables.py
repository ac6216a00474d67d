"""Users of `pbx-sms web` and the CLI's user commands: users, API tokens, browser sessions, failed logins.

No secret is stored in clear: passwords as argon2id hashes, API tokens and session ids as SHA-256
digests of high-entropy random values (looked up by digest). None of these tables is configuration:
they are not in CONFIG_TABLES, so a login or a request never makes the daemons reload.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from pbx_sms.db.config_tables import Base, TimestampMixin
from pbx_sms.db.types import UtcDateTime

ROLE_VALUES = ("operator", "admin", "viewer")
LANGUAGE_VALUES = ("pl", "en")
DIGEST_LENGTH = 64  # SHA-256, hex


class UserRow(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    # The one account of an admin or viewer; NULL for an operator. Removing the account removes its users.
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    language: Mapped[str] = mapped_column(String(2))
    # Whether the user picked ``language`` (panel switch, CLI --language): until then the browser's
    # Accept-Language and the account's country choose (pbx_sms/web/pages/i18n.py).
    language_chosen: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)

    __table_args__ = (
        CheckConstraint("role IN " + str(ROLE_VALUES), name="role_known"),
        CheckConstraint("language IN " + str(LANGUAGE_VALUES), name="language_known"),
        CheckConstraint(
            "(role = 'operator' AND account_id IS NULL) OR (role <> 'operator' AND account_id IS NOT NULL)",
            name="account_by_role",
        ),
    )


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class WebSessionRow(Base):
    """A browser session; the cookie holds the random id, the row its digest. Deleting the row ends it."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class LoginFailureRow(Base):
    """A failed login (never its password), kept for the throttling window only (pbx_sms.core.login_throttle)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # As typed (normalised, cut to the column's length): throttling counts names nobody has too.
    user_name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_login_failures_user_name_failed_at", "user_name", "failed_at"),
        Index("ix_login_failures_address_failed_at", "address", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )


AUTH_TABLES: tuple[str, ...] = ("users", "api_tokens", "web_sessions", "login_failures")
