"""The audit log: every change to rules, accounts, numbers, senders, opt-outs, users and API tokens.

Recorded in one place: a session event (``after_flush``) looks at the ORM objects of the audited models
that the flush inserted, changed or deleted and writes one entry for each, in the same transaction (a
change that is rolled back leaves no entry). Who made it comes from the session (pbx_sms.storage.actor),
set where the CLI's and the web's write sessions are opened, so no storage function takes an actor and
every change through the storage functions, from the CLI or the API, is recorded.

Only ORM changes are seen: a Core ``update()``/``delete()`` bypasses the event. The storage functions
change audited rows through ORM objects; the Core deletes that remain are parts of a larger audited
change (removing an account removes its numbers, senders, rules and opt-outs; removing a user their
tokens) and are that change's one entry.

Documents (``before``/``after``) list chosen fields only, so a secret (a password hash, a token digest, a
session id) can never be in one; a rule's document is its rule-file form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, event, insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from pbx_sms.core.clock import utc_now
from pbx_sms.db.audit_table import AuditEntryRow
from pbx_sms.db.auth_tables import ApiTokenRow, UserRow
from pbx_sms.db.config_tables import Account, Base, CompanyNumber, OptOut, RuleRow, Sender
from pbx_sms.storage.actor import actor_of
from pbx_sms.storage.rule_rows import RULE_COLUMNS, StoredRuleInvalid, columns_to_document
from pbx_sms.storage.values import decode_list


class Entity(StrEnum):
    RULE = "rule"
    ACCOUNT = "account"
    NUMBER = "number"
    SENDER = "sender"
    OPTOUT = "optout"
    USER = "user"
    TOKEN = "token"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ENABLE = "enable"
    DISABLE = "disable"
    PASSWORD = "password"
    REVOKE = "revoke"


Values = Callable[[str], Any]  # a column's value in one state of an object (before or after the change)
Document = dict[str, Any]

NOT_A_CHANGE_KEY = "pbx_sms_not_a_change"  # in Session.info: see not_a_change
# Changed by every update, or on use rather than by a change: never an audited change on their own.
UNAUDITED_COLUMNS = frozenset({"created_at", "updated_at", "last_used_at"})


class Names:
    """Account and user names by id, read on the flush's connection (a flush must not load ORM objects)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._accounts: dict[int, str | None] = {}
        self._users: dict[int, tuple[str, int | None] | None] = {}

    def remember_accounts(self, names: Mapping[int, str]) -> None:
        self._accounts.update(names)

    def account(self, account_id: int | None) -> str | None:
        if account_id is None:
            return None
        if account_id not in self._accounts:
            self._accounts[account_id] = self._connection.scalar(select(Account.name).where(Account.id == account_id))
        return self._accounts[account_id]

    def user(self, user_id: int) -> tuple[str, int | None] | None:
        """(name, account id) of a user."""
        if user_id not in self._users:
            found = self._connection.execute(
                select(UserRow.name, UserRow.account_id).where(UserRow.id == user_id)
            ).first()
            self._users[user_id] = None if found is None else (found[0], found[1])
        return self._users[user_id]


@dataclass(frozen=True, slots=True)
class Subject:
    """How the objects of one audited model are recorded."""

    entity: Entity
    key: Callable[[Values], str]
    account_id: Callable[[Values, Names], int | None]
    document: Callable[[Values, Names], Document]
    # A column whose change alone is enable/disable (not "update"); ``switch_off``: true means disabled.
    switch: str | None = None
    switch_off: bool = False
    # A change of this column is this action, whatever else changed (password_hash: password, revoked_at: revoke).
    special: tuple[str, AuditAction] | None = None


def _own_account(values: Values, _names: Names) -> int | None:
    account_id: int | None = values("account_id")
    return account_id


def _rule_document(values: Values, _names: Names) -> Document:
    columns = {column: values(column) for column in RULE_COLUMNS}
    try:
        return columns_to_document(values("name"), columns)
    except StoredRuleInvalid:  # a hand-written schedule that is not JSON: the columns as they are
        return {"name": values("name"), **columns}


def _account_document(values: Values, _names: Names) -> Document:
    return {
        "name": values("name"),
        "timezone": values("timezone"),
        "country": values("country"),
        "allowed_countries": decode_list(values("allowed_countries") or ""),
        "sms_enabled": values("sms_enabled"),
        "daily_cap": values("daily_cap"),
        "quiet_hours": values("quiet_hours"),
    }


def _user_document(values: Values, names: Names) -> Document:
    return {
        "name": values("name"),
        "role": values("role"),
        "account": names.account(values("account_id")),
        "language": values("language"),
        "disabled": values("disabled"),
    }


def _token_user(values: Values, names: Names) -> tuple[str, int | None] | None:
    return names.user(values("user_id"))


def _token_document(values: Values, names: Names) -> Document:
    user = _token_user(values, names)
    return {
        "id": values("id"),
        "user": None if user is None else user[0],
        "name": values("name"),
        "created_at": values("created_at"),
        "revoked_at": values("revoked_at"),
    }


def _token_account(values: Values, names: Names) -> int | None:
    user = _token_user(values, names)
    return None if user is None else user[1]


SUBJECTS: Mapping[type[Base], Subject] = {
    RuleRow: Subject(Entity.RULE, lambda values: values("name"), _own_account, _rule_document, switch="enabled"),
    Account: Subject(
        Entity.ACCOUNT,
        lambda values: values("name"),
        lambda values, _names: values("id"),
        _account_document,
        switch="sms_enabled",
    ),
    CompanyNumber: Subject(
        Entity.NUMBER, lambda values: values("e164"), _own_account, lambda values, _: {"e164": values("e164")}
    ),
    Sender: Subject(
        Entity.SENDER, lambda values: values("sender"), _own_account, lambda values, _: {"sender": values("sender")}
    ),
    OptOut: Subject(
        Entity.OPTOUT,
        lambda values: values("e164"),
        _own_account,
        lambda values, names: {"e164": values("e164"), "account": names.account(values("account_id"))},
    ),
    UserRow: Subject(
        Entity.USER,
        lambda values: values("name"),
        _own_account,
        _user_document,
        switch="disabled",
        switch_off=True,
        special=("password_hash", AuditAction.PASSWORD),
    ),
    ApiTokenRow: Subject(
        Entity.TOKEN,
        lambda values: str(values("id")),
        _token_account,
        _token_document,
        special=("revoked_at", AuditAction.REVOKE),
    ),
}
ENTITIES: tuple[str, ...] = tuple(entity.value for entity in Entity)


def _json_value(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} in an audit document")


def _to_json(document: Document | None) -> str | None:
    if document is None:
        return None
    return json.dumps(document, ensure_ascii=False, default=_json_value)


@dataclass(frozen=True, slots=True)
class Change:
    """One audited change, to be written as one entry."""

    entity: Entity
    key: str
    action: AuditAction
    account_id: int | None
    account_name: str | None
    before: Document | None
    after: Document | None


def record(connection: Connection, actor: str, changes: Sequence[Change]) -> None:
    """Write one entry per change, all at this time (the only writer of the audit log)."""
    if not changes:
        return
    at = utc_now()
    connection.execute(
        insert(AuditEntryRow),
        [
            {
                "at": at,
                "actor": actor,
                "account_id": change.account_id,
                "account_name": change.account_name,
                "entity": change.entity.value,
                "key": change.key,
                "action": change.action.value,
                "before": _to_json(change.before),
                "after": _to_json(change.after),
            }
            for change in changes
        ],
    )


def _current(obj: Any) -> Values:
    return lambda column: getattr(obj, column)


def _old_values(obj: Any) -> dict[str, Any]:
    """The value before this flush of each column it changed (None for one that had not been loaded)."""
    state = inspect(obj)
    old: dict[str, Any] = {}
    for attribute in state.mapper.column_attrs:
        history = state.attrs[attribute.key].history
        if history.has_changes():
            old[attribute.key] = history.deleted[0] if history.deleted else None
    return old


def _previous(obj: Any, old: Mapping[str, Any]) -> Values:
    """The values before this flush: a changed column's old value, the others as they are."""
    return lambda column: old[column] if column in old else getattr(obj, column)


def _update_action(subject: Subject, changed: frozenset[str], after: Values) -> AuditAction | None:
    """What an update of these columns is; None when it is no audited change."""
    changed = changed - UNAUDITED_COLUMNS
    if not changed:
        return None
    if subject.special is not None and subject.special[0] in changed:
        column, action = subject.special
        # A token un-revoked by hand would be an update; revoking is setting the time.
        if action is not AuditAction.REVOKE or after(column) is not None:
            return action
    if subject.switch is not None and changed == {subject.switch}:
        return AuditAction.ENABLE if _switched_on(subject, after) else AuditAction.DISABLE
    return AuditAction.UPDATE


def _switched_on(subject: Subject, after: Values) -> bool:
    return bool(after(subject.switch or "")) != subject.switch_off


def not_a_change(session: Session) -> None:
    """What this session writes is upkeep, not a change anyone made (a password hash redone with newer
    parameters at a login: the password is the same): it writes no entries."""
    session.info[NOT_A_CHANGE_KEY] = True


def _record_flush(session: Session, _flush_context: UOWTransaction) -> None:
    """Session event: one entry per audited object this flush inserted, changed or deleted."""
    if session.info.get(NOT_A_CHANGE_KEY):
        return
    touched: list[tuple[Any, Subject, AuditAction | None]] = []
    for objects, action in (
        (session.new, AuditAction.CREATE),
        (session.dirty, None),
        (session.deleted, AuditAction.DELETE),
    ):
        for obj in objects:
            subject = SUBJECTS.get(type(obj))
            if subject is not None:
                touched.append((obj, subject, action))
    if not touched:
        return
    connection = session.connection()
    names = Names(connection)
    # An entry cannot point at an account this flush deleted (the foreign key): it keeps the name only,
    # known from the object (the row is gone).
    removed_accounts = {obj.id: obj.name for obj in session.deleted if isinstance(obj, Account)}
    names.remember_accounts(removed_accounts)
    changes: list[Change] = []
    for obj, subject, known_action in touched:
        after = _current(obj)
        old = {} if known_action is AuditAction.CREATE else _old_values(obj)
        before = _previous(obj, old)
        action = known_action or _update_action(subject, frozenset(old), after)
        if action is None:
            continue
        values = before if action is AuditAction.DELETE else after
        account_id = subject.account_id(values, names)
        changes.append(
            Change(
                entity=subject.entity,
                key=subject.key(values),
                action=action,
                account_id=None if account_id in removed_accounts else account_id,
                account_name=values("name") if subject.entity is Entity.ACCOUNT else names.account(account_id),
                before=None if action is AuditAction.CREATE else subject.document(before, names),
                after=None if action is AuditAction.DELETE else subject.document(after, names),
            )
        )
    record(connection, actor_of(session), changes)


event.listen(Session, "after_flush", _record_flush)
