"""Password logins: throttled (pbx_sms.core.login_throttle), constant-time, never logging the password.

Failures are kept in ``login_failures`` for the throttling window only (each failure prunes the older
ones), so the table stays small and the throttle holds across processes and restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from pbx_sms.core.login_throttle import check_login, window_start
from pbx_sms.db.auth_tables import LoginFailureRow, UserRow
from pbx_sms.db.engine import Database
from pbx_sms.storage.audit import not_a_change
from pbx_sms.storage.credentials import DEFAULT_HASHER, needs_rehash, spend_verify_time, verify_password
from pbx_sms.storage.users import UserView, normalise_user_name, view

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 64  # the columns' length


@dataclass(frozen=True, slots=True)
class LoginResult:
    """``user`` on success; otherwise ``retry_after_s`` when throttled (HTTP 429), else a wrong login (401).

    Why a login failed (unknown user, wrong password, disabled) is logged, not returned: the answer
    must not tell a guesser which user names exist.
    """

    user: UserView | None = None
    retry_after_s: int | None = None


def _key(value: str) -> str:
    return "".join(char if char.isprintable() else "?" for char in value)[:MAX_KEY_LENGTH]


def _failures(session: Session, column: InstrumentedAttribute[str], key: str, since: datetime) -> list[datetime]:
    return list(
        session.scalars(select(LoginFailureRow.failed_at).where(column == key, LoginFailureRow.failed_at > since))
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int
    password_hash: str
    disabled: bool


def login(
    database: Database,
    user_name: str,
    password: str,
    address: str,
    now: datetime,
    *,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> LoginResult:
    """Check a user name and password typed at ``address`` (the client's IP).

    Three steps, so that the slow argon2 check (most of a second with the default parameters) runs
    outside any transaction: on SQLite a write transaction around it would hold up every other writer,
    the daemons included. Two attempts racing past the throttle at once can make it 6 failures, not 5.
    """
    name_key = _key(normalise_user_name(user_name))
    address_key = _key(address)
    since = window_start(now)
    with database.session() as session:
        throttle = check_login(
            _failures(session, LoginFailureRow.user_name, name_key, since),
            _failures(session, LoginFailureRow.address, address_key, since),
            now,
        )
        row = session.scalar(select(UserRow).where(UserRow.name == name_key)) if throttle.allowed else None
        candidate = _Candidate(row.id, row.password_hash, row.disabled) if row is not None else None
    if not throttle.allowed:
        log.warning(
            "login refused for user %r from %s: too many failures, retry in %d s",
            name_key,
            address_key,
            throttle.retry_after_s,
            extra={"user": name_key, "address": address_key, "retry_after_s": throttle.retry_after_s},
        )
        return LoginResult(retry_after_s=throttle.retry_after_s)
    if candidate is None:
        spend_verify_time(password, hasher)
        return _failed(database, name_key, address_key, now, "no such user")
    if not verify_password(candidate.password_hash, password, hasher):
        return _failed(database, name_key, address_key, now, "wrong password")
    if candidate.disabled:
        return _failed(database, name_key, address_key, now, "user disabled")
    # The password is at hand only now: a hash with older parameters is redone with the current ones.
    new_hash = hasher.hash(password) if needs_rehash(candidate.password_hash, hasher) else None
    with database.write_session() as session:
        user = session.get(UserRow, candidate.id)
        if user is None or user.disabled or user.password_hash != candidate.password_hash:
            # Removed, disabled or given a new password while the password was being checked.
            return LoginResult()
        if new_hash is not None:
            not_a_change(session)  # same password: no "password" entry in the audit log
            user.password_hash = new_hash
        session.execute(delete(LoginFailureRow).where(LoginFailureRow.user_name == name_key))
        session.flush()
        result = LoginResult(user=view(session, user))
    log.info("login of user %r from %s", name_key, address_key, extra={"user": name_key, "address": address_key})
    return result


def _failed(database: Database, name_key: str, address_key: str, now: datetime, why: str) -> LoginResult:
    with database.write_session() as session:
        session.execute(delete(LoginFailureRow).where(LoginFailureRow.failed_at <= window_start(now)))
        session.add(LoginFailureRow(user_name=name_key, address=address_key, failed_at=now))
    log.warning(
        "login failed for user %r from %s: %s",
        name_key,
        address_key,
        why,
        extra={"user": name_key, "address": address_key, "reason": why},
    )
    return LoginResult()
