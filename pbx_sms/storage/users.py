"""Users of `pbx-sms web`: add, list, change password, disable/enable, remove. Shared by the CLI and the API.

Every change is logged by ``record_change`` (without secrets); its audit log entry is written by the
session event of pbx_sms.storage.audit, in the same transaction as the change.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from argon2 import PasswordHasher
from sqlalchemy import CursorResult, Delete, delete, select
from sqlalchemy.orm import Session

from pbx_sms.core.access import Principal, Role
from pbx_sms.db.auth_tables import LANGUAGE_VALUES, ApiTokenRow, UserRow, WebSessionRow
from pbx_sms.db.config_tables import Account
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.credentials import DEFAULT_HASHER, hash_password
from pbx_sms.storage.errors import AlreadyExists, InvalidValue, NotFound

log = logging.getLogger(__name__)

# Lower-case so that "Jan" and "jan" are one user; no spaces or quotes, so a name is safe in any output.
USER_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MAX_ACCOUNT_NAME_LENGTH = 100
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the CLI lists it and the API will authorise it (no password hash)."""

    id: int
    name: str
    role: Role
    account_id: int | None
    account: str | None
    language: str
    disabled: bool
    created_at: datetime
    updated_at: datetime
    language_chosen: bool = False

    @property
    def chosen_language(self) -> str | None:
        """The language the user picked; None while it is the default (the browser's then applies)."""
        return self.language if self.language_chosen else None

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.account_id)


def record_change(change: str, user_name: str, **details: object) -> None:
    """The one place a change to users or tokens is logged. The audit log entry, with the user before and
    after, is written by the session event of pbx_sms.storage.audit at the flush (not here: this has no
    "before", and a change made without this call would be missed)."""
    log.info("%s: user %r", change, user_name, extra={"change": change, "user": user_name, **details})


def normalise_user_name(name: str) -> str:
    return name.strip().lower()


def check_user_name(name: str) -> str:
    normalised = normalise_user_name(name)
    if not USER_NAME.fullmatch(normalised):
        raise InvalidValue(
            f"user name {_shown(name)}: expected 1-64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    return normalised


def check_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise InvalidValue(f"role {_shown(role)}: expected one of operator, admin, viewer") from None


def check_language(language: str) -> str:
    value = language.strip().lower()
    if value not in LANGUAGE_VALUES:
        raise InvalidValue(f"language {_shown(language)}: expected one of {', '.join(LANGUAGE_VALUES)}")
    return value


def _shown(value: str) -> str:
    """A user-given value in a message: quoted, escaped, cut (a 10 kB argument is not echoed whole)."""
    return repr(value if len(value) <= 70 else value[:64] + "…")


def _account_id(session: Session, role: Role, account: str | None) -> int | None:
    if role is Role.OPERATOR:
        if account is not None:
            raise InvalidValue("account: an operator works on every account; give no account")
        return None
    if account is None or not account.strip():
        raise InvalidValue(f"account: {_article(role)} {role.value} belongs to one account; name it (--account)")
    return account_id_of(session, account.strip())


def account_id_of(session: Session, account: str) -> int:
    """The id of an account by name; a name no account can have (a NUL, 10 kB) is not looked up
    (PostgreSQL refuses a NUL in a query: that would be a crash, not "does not exist")."""
    if not account or len(account) > MAX_ACCOUNT_NAME_LENGTH or not account.isprintable():
        raise NotFound(f"account {_shown(account)} does not exist (see `pbx-sms accounts list`)")
    return get_account(session, account).id


def _article(role: Role) -> str:
    return "an" if role is Role.ADMIN else "a"


def get_user(session: Session, name: str) -> UserRow:
    normalised = normalise_user_name(name)
    user = (
        session.scalar(select(UserRow).where(UserRow.name == normalised)) if USER_NAME.fullmatch(normalised) else None
    )
    if user is None:
        raise NotFound(f"user {_shown(name)} does not exist (see `pbx-sms users list`)")
    return user


@dataclass(frozen=True, slots=True)
class NewUser:
    name: str
    role: Role
    account_id: int | None
    language: str
    language_chosen: bool


def check_new_user(session: Session, name: str, role: str, account: str | None, language: str | None = None) -> NewUser:
    """Everything `add_user` would refuse, checked without writing (so the CLI can ask for the password after)."""
    name = check_user_name(name)
    checked_role = check_role(role)
    checked_language = check_language(language) if language is not None else DEFAULT_LANGUAGE
    account_id = _account_id(session, checked_role, account)
    if session.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
        raise AlreadyExists(f"user {name!r} already exists")
    return NewUser(name, checked_role, account_id, checked_language, language is not None)


def add_user(
    session: Session,
    name: str,
    *,
    role: str,
    password: str,
    account: str | None = None,
    language: str | None = None,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> UserView:
    """Add a user; every field is checked before anything is written (and before the slow hash).
    Without ``language`` the panel follows the browser until the user picks one."""
    new = check_new_user(session, name, role, account, language)
    user = UserRow(
        name=new.name,
        role=new.role.value,
        account_id=new.account_id,
        password_hash=hash_password(password, hasher),
        language=new.language,
        language_chosen=new.language_chosen,
    )
    session.add(user)
    session.flush()
    record_change("user added", new.name, role=new.role.value, account=account)
    return view(session, user)


def view(session: Session, user: UserRow) -> UserView:
    account = session.get(Account, user.account_id) if user.account_id is not None else None
    return UserView(
        id=user.id,
        name=user.name,
        role=Role(user.role),
        account_id=user.account_id,
        account=account.name if account is not None else None,
        language=user.language,
        disabled=user.disabled,
        created_at=user.created_at,
        updated_at=user.updated_at,
        language_chosen=user.language_chosen,
    )


def list_users(session: Session, account: str | None = None) -> list[UserView]:
    """Every user by name, or those of one account."""
    query = select(UserRow, Account.name).outerjoin(Account, UserRow.account_id == Account.id)
    if account is not None:
        query = query.where(UserRow.account_id == account_id_of(session, account))
    return [
        UserView(
            id=user.id,
            name=user.name,
            role=Role(user.role),
            account_id=user.account_id,
            account=account_name,
            language=user.language,
            disabled=user.disabled,
            created_at=user.created_at,
            updated_at=user.updated_at,
            language_chosen=user.language_chosen,
        )
        for user, account_name in session.execute(query.order_by(UserRow.name))
    ]


def deleted_rows(session: Session, statement: Delete) -> int:
    """Run a DELETE and say how many rows it removed (a DELETE's result is a cursor result)."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount or 0


def end_all_sessions(session: Session, user_id: int) -> int:
    """End every browser session of a user (password changed, disabled): the next request logs in again."""
    return deleted_rows(session, delete(WebSessionRow).where(WebSessionRow.user_id == user_id))


def change_password(session: Session, name: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> None:
    """Set a new password; the user's browser sessions end (whoever else was logged in as them is out)."""
    user = get_user(session, name)
    user.password_hash = hash_password(password, hasher)
    ended = end_all_sessions(session, user.id)
    session.flush()
    record_change("password changed", user.name, sessions_ended=ended)


def set_language(session: Session, name: str, language: str) -> None:
    user = get_user(session, name)
    user.language = check_language(language)
    user.language_chosen = True
    session.flush()
    record_change("language changed", user.name, language=user.language)


def set_disabled(session: Session, name: str, disabled: bool) -> bool:
    """Disable (no login, no token works, sessions end) or enable a user. Returns whether it changed."""
    user = get_user(session, name)
    if user.disabled == disabled:
        return False
    user.disabled = disabled
    ended = end_all_sessions(session, user.id) if disabled else 0
    session.flush()
    record_change("user disabled" if disabled else "user enabled", user.name, sessions_ended=ended)
    return True


def remove_user(session: Session, name: str) -> None:
    """Remove a user with their API tokens and browser sessions."""
    user = get_user(session, name)
    # Explicit, not left to ON DELETE CASCADE: the same on SQLite without foreign keys switched on.
    session.execute(delete(ApiTokenRow).where(ApiTokenRow.user_id == user.id))
    end_all_sessions(session, user.id)
    session.delete(user)
    session.flush()
    record_change("user removed", user.name)


def enabled_user(session: Session, user_id: int) -> UserView | None:
    """The user behind a token or session, if they still exist and are not disabled."""
    user = session.get(UserRow, user_id)
    if user is None or user.disabled:
        return None
    return view(session, user)
