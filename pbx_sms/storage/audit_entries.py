"""Reading the audit log (written by pbx_sms.storage.audit): entries by account, kind and time, newest
first, in pages; and what an update changed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pbx_sms.core.bounds import ACCOUNT_NAME_MAX_CHARS
from pbx_sms.db.audit_table import AuditEntryRow
from pbx_sms.storage.audit import ENTITIES, Document
from pbx_sms.storage.errors import InvalidValue
from pbx_sms.storage.values import can_be_stored

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    account: str | None
    entity: str
    key: str
    action: str
    before: Document | None
    after: Document | None

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(field path, old, new) for each field an update changed (none for a creation or removal)."""
        if self.before is None or self.after is None:
            return []
        return differences(self.before, self.after)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "account": self.account,
            "entity": self.entity,
            "key": self.key,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }


def differences(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """The fields in which two documents differ, as dotted paths ("when.status"), in document order; pure."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[tuple[str, Any, Any]] = []
        for key in [*before, *(key for key in after if key not in before)]:
            found.extend(differences(before.get(key), after.get(key), f"{path}.{key}" if path else key))
        return found
    return [] if before == after else [(path, before, after)]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which entries: all of these that are given (newest first)."""

    account_id: int | None = None  # what an account's own users see: entries by the account's id
    account_name: str | None = None  # an operator's filter: also the history of a removed account
    entities: Sequence[str] | None = None
    since: datetime | None = None
    before_id: int | None = None  # the cursor: entries older than this one
    limit: int = DEFAULT_LIMIT


def check_entity(value: str) -> str:
    entity = value.strip().lower()
    if entity not in ENTITIES:
        raise InvalidValue(f"entity {value[:40]!r}: expected one of {', '.join(ENTITIES)}")
    return entity


def check_limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidValue(f"limit {value}: expected 1 to {MAX_LIMIT}")
    return value


def list_entries(session: Session, query: AuditQuery) -> list[AuditEntry]:
    """The entries the query asks for, newest first."""
    return list_page(session, query).entries


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: int | None  # ``before_id`` of the next (older) page; None: this is the last one


def list_page(session: Session, query: AuditQuery) -> AuditPage:
    """One page of the entries the query asks for, newest first, and where the next page starts."""
    limit = check_limit(query.limit)
    if query.account_name is not None and not can_be_stored(query.account_name, ACCOUNT_NAME_MAX_CHARS):
        return AuditPage([], None)  # no account has that name (and PostgreSQL refuses a NUL in a query)
    statement = select(AuditEntryRow)
    if query.account_id is not None:
        statement = statement.where(AuditEntryRow.account_id == query.account_id)
    if query.account_name is not None:
        statement = statement.where(AuditEntryRow.account_name == query.account_name)
    if query.entities is not None:
        statement = statement.where(AuditEntryRow.entity.in_(query.entities))
    if query.since is not None:
        statement = statement.where(AuditEntryRow.at >= query.since)
    if query.before_id is not None:
        statement = statement.where(AuditEntryRow.id < query.before_id)
    # One more than asked: whether there is a next page, without an empty last one.
    rows = session.scalars(statement.order_by(AuditEntryRow.id.desc()).limit(limit + 1)).all()
    entries = [_entry(row) for row in rows[:limit]]
    return AuditPage(entries, entries[-1].id if len(rows) > limit else None)


def _entry(row: AuditEntryRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        account=row.account_name,
        entity=row.entity,
        key=row.key,
        action=row.action,
        before=_from_json(row.before),
        after=_from_json(row.after),
    )


def _from_json(text: str | None) -> Document | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:  # an entry edited by hand: shown, not a crash
        return {"unreadable": text}
    return value if isinstance(value, dict) else {"value": value}
