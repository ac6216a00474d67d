"""Who sent a request of `pbx-sms web`: a bearer token or a session cookie → the enabled user, and
whether the request must carry the session's CSRF token. The HTTP layer (next) calls only this."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher

from pbx_sms.core.web_session import SessionLimits, csrf_required
from pbx_sms.db.engine import Database
from pbx_sms.storage.api_tokens import authenticate_token
from pbx_sms.storage.credentials import DEFAULT_HASHER, csrf_matches, csrf_token
from pbx_sms.storage.logins import LoginResult, login
from pbx_sms.storage.users import UserView
from pbx_sms.storage.web_sessions import check_session, start_session


@dataclass(frozen=True, slots=True)
class Caller:
    user: UserView
    by_session: bool  # False: by a bearer token


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header (the scheme is case-insensitive), else None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def identify(
    database: Database,
    *,
    authorization: str | None,
    session_cookie: str | None,
    now: datetime,
    limits: SessionLimits,
) -> Caller | None:
    """The caller, or None (401). A request with an Authorization header is judged by it alone: a bad
    token is not rescued by a cookie that happens to come along."""
    with database.write_session() as session:
        if authorization is not None:
            token = bearer_token(authorization)
            user = authenticate_token(session, token, now) if token is not None else None
            return Caller(user, by_session=False) if user is not None else None
        if session_cookie:
            user = check_session(session, session_cookie, now, limits)
            return Caller(user, by_session=True) if user is not None else None
    return None


def csrf_ok(caller: Caller, method: str, session_cookie: str | None, presented: str | None) -> bool:
    """Whether the request may go on as far as CSRF is concerned (False: 403)."""
    if not csrf_required(method, caller.by_session):
        return True
    return bool(session_cookie) and presented is not None and csrf_matches(session_cookie or "", presented)


@dataclass(frozen=True, slots=True)
class SessionLogin:
    result: LoginResult
    cookie: str | None = None  # the session id for the cookie, on success
    csrf: str | None = None  # the token its pages embed


def log_in(
    database: Database,
    user_name: str,
    password: str,
    address: str,
    now: datetime,
    *,
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> SessionLogin:
    """The login form: check the password (throttled) and, if right, start a browser session."""
    result = login(database, user_name, password, address, now, hasher=hasher)
    if result.user is None:
        return SessionLogin(result)
    with database.write_session() as session:
        cookie = start_session(session, result.user.id, now)
    return SessionLogin(result, cookie, csrf_token(cookie))
