"""Who sent a request: bearer token or session cookie, CSRF, and the login form; SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from pbx_sms.core.web_session import SessionLimits
from pbx_sms.db.engine import Database
from pbx_sms.storage.api_tokens import create_token, revoke_token
from pbx_sms.storage.database import open_database
from pbx_sms.storage.request_auth import Caller, bearer_token, csrf_ok, identify, log_in
from pbx_sms.storage.users import add_user

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMITS = SessionLimits(idle_s=1800, max_s=43200)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    with db.write_session() as session:
        add_user(session, "root", role="operator", password=PASSWORD, hasher=FAST)
    yield db
    db.close()


def who(
    database: Database, *, authorization: str | None = None, cookie: str | None = None, seconds: float = 1
) -> Caller | None:
    return identify(
        database, authorization=authorization, session_cookie=cookie, now=T0 + timedelta(seconds=seconds), limits=LIMITS
    )


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_the_bearer_token_of_an_authorization_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_a_bearer_token_identifies_its_user_until_revoked(database: Database) -> None:
    with database.write_session() as session:
        view, token = create_token(session, "root", T0)
    caller = who(database, authorization=f"Bearer {token}")
    assert caller is not None and caller.user.name == "root" and not caller.by_session
    assert csrf_ok(caller, "POST", None, None)  # token calls need no CSRF token
    with database.write_session() as session:
        revoke_token(session, view.id, T0)
    assert who(database, authorization=f"Bearer {token}") is None


def test_the_login_form_starts_a_session_that_needs_csrf_for_writes(database: Database) -> None:
    assert log_in(database, "root", "wrong password", "192.0.2.1", T0, hasher=FAST).cookie is None
    done = log_in(database, "root", PASSWORD, "192.0.2.1", T0, hasher=FAST)
    assert done.result.user is not None and done.cookie and done.csrf and done.csrf != done.cookie
    caller = who(database, cookie=done.cookie)
    assert caller is not None and caller.by_session
    assert csrf_ok(caller, "GET", done.cookie, None)
    assert csrf_ok(caller, "POST", done.cookie, done.csrf)
    assert not csrf_ok(caller, "POST", done.cookie, None)
    assert not csrf_ok(caller, "DELETE", done.cookie, "0" * 64)
    assert who(database, cookie=done.cookie, seconds=LIMITS.max_s) is None


def test_a_bad_authorization_header_is_not_rescued_by_a_cookie(database: Database) -> None:
    done = log_in(database, "root", PASSWORD, "192.0.2.1", T0, hasher=FAST)
    assert who(database, authorization="Bearer pbxsms_wrong", cookie=done.cookie) is None
    assert who(database, authorization="Basic cm9vdA==", cookie=done.cookie) is None
    assert who(database) is None
    assert who(database, cookie="") is None
