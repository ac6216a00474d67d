"""API tokens (``Authorization: Bearer``): created for a user and shown once, listed and revoked by id,
authenticated by the SHA-256 digest of what the client presents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pbx_sms.core.web_session import needs_touch
from pbx_sms.db.auth_tables import ApiTokenRow, UserRow
from pbx_sms.storage.credentials import NewSecret, new_api_token, plausible_secret, random_secret, secret_digest
from pbx_sms.storage.errors import InvalidValue, NotFound
from pbx_sms.storage.users import UserView, enabled_user, get_user, record_change

MAX_TOKEN_NAME_LENGTH = 100
MAX_TOKEN_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class TokenView:
    """A token as listed: never the token, nor its digest."""

    id: int
    user: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def check_token_name(name: str) -> str:
    value = name.strip()
    if len(value) > MAX_TOKEN_NAME_LENGTH:
        raise InvalidValue(f"token name: expected at most {MAX_TOKEN_NAME_LENGTH} characters")
    if not value.isprintable():
        raise InvalidValue("token name: expected printable characters (no control characters)")
    return value


def create_token(
    session: Session, user_name: str, now: datetime, *, name: str = "", new_secret: NewSecret = random_secret
) -> tuple[TokenView, str]:
    """A new token for a user: (its listing, the token). The token exists nowhere else afterwards."""
    label = check_token_name(name)
    user = get_user(session, user_name)
    token = new_api_token(new_secret)
    row = ApiTokenRow(user_id=user.id, digest=secret_digest(token), name=label, created_at=now)
    session.add(row)
    session.flush()
    record_change("token created", user.name, token_id=row.id)
    return _view(row, user.name), token


def list_tokens(session: Session, user_name: str | None = None) -> list[TokenView]:
    query = select(ApiTokenRow, UserRow.name).join(UserRow, ApiTokenRow.user_id == UserRow.id)
    if user_name is not None:
        query = query.where(ApiTokenRow.user_id == get_user(session, user_name).id)
    return [_view(row, name) for row, name in session.execute(query.order_by(ApiTokenRow.id))]


def revoke_token(session: Session, token_id: int, now: datetime) -> tuple[TokenView, bool]:
    """Revoke a token by id: (its listing, whether it was still valid until now)."""
    found = (
        session.execute(
            select(ApiTokenRow, UserRow.name)
            .join(UserRow, ApiTokenRow.user_id == UserRow.id)
            .where(ApiTokenRow.id == token_id)
        ).first()
        if 0 < token_id <= MAX_TOKEN_ID
        else None
    )
    if found is None:
        raise NotFound(f"token {token_id} does not exist (see `pbx-sms tokens list`)")
    row, user_name = found
    was_valid = row.revoked_at is None
    if was_valid:
        row.revoked_at = now
        session.flush()
        record_change("token revoked", user_name, token_id=row.id)
    return _view(row, user_name), was_valid


def authenticate_token(session: Session, presented: str, now: datetime) -> UserView | None:
    """The enabled user a bearer token belongs to, or None (unknown, revoked, or the user is disabled).

    The lookup is by digest: the database compares digests, which tell nothing about the token.
    ``last_used_at`` is written at most once a minute (pbx_sms.core.web_session.needs_touch).
    """
    if not plausible_secret(presented):
        return None
    row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.digest == secret_digest(presented)))
    if row is None or row.revoked_at is not None:
        return None
    user = enabled_user(session, row.user_id)
    if user is None:
        return None
    if needs_touch(row.last_used_at, now):
        row.last_used_at = now
        session.flush()
    return user


def _view(row: ApiTokenRow, user_name: str) -> TokenView:
    return TokenView(row.id, user_name, row.name, row.created_at, row.last_used_at, row.revoked_at)
