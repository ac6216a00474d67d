"""The audit log: who changed which rule, account, number, sender, opt-out, user or token, when, and how.

Written by ``pbx_sms.storage.audit`` in the transaction of the change itself, so a change that is
rolled back leaves no entry. Not configuration (no ``config_version`` trigger): reading or writing it
never makes a daemon reload.

An entry keeps the account's *name* as text and its id with ``ON DELETE SET NULL``: the history of a
removed account survives (with its name) for the operator, while its id, which is what an account's
admin and viewer are shown entries by, becomes NULL — a new account later given the same name does not
inherit the old one's history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pbx_sms.core.bounds import ACCOUNT_NAME_MAX_CHARS
from pbx_sms.db.config_tables import Base
from pbx_sms.db.types import UtcDateTime

ACTOR_MAX_CHARS = 200
ENTITY_MAX_CHARS = 20
KEY_MAX_CHARS = 200
ACTION_MAX_CHARS = 20


class AuditEntryRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    # "web:jan", "cli:root", "daemon" (pbx_sms.storage.actor).
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX_CHARS))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    # NULL: not an account's (an operator, a global opt-out).
    account_name: Mapped[str | None] = mapped_column(String(ACCOUNT_NAME_MAX_CHARS), nullable=True)
    # "rule", "account", "number", "sender", "optout", "user", "token".
    entity: Mapped[str] = mapped_column(String(ENTITY_MAX_CHARS))
    # The rule's name, the number, the sender ID, the user's name, the token's id...
    key: Mapped[str] = mapped_column(String(KEY_MAX_CHARS))
    # "create", "update", "delete", "enable", "disable", "password", "revoke".
    action: Mapped[str] = mapped_column(String(ACTION_MAX_CHARS))
    # JSON documents of the object before and after the change (NULL when it did not exist); never a secret.
    before: Mapped[str | None] = mapped_column(Text, nullable=True)
    after: Mapped[str | None] = mapped_column(Text, nullable=True)

    # Pages are newest first by id: (account, id) reads an account's page in index order, no sort.
    __table_args__ = (
        Index("ix_audit_log_account_id_id", "account_id", "id"),
        Index("ix_audit_log_account_name_id", "account_name", "id"),
        Index("ix_audit_log_at", "at"),
    )


AUDIT_TABLE = "audit_log"
