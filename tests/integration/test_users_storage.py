"""Users, passwords, API tokens and browser sessions in the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from argon2 import PasswordHasher
from sqlalchemy import func, inspect, select, text

from pbx_sms.core.access import Role
from pbx_sms.core.web_session import SessionLimits
from pbx_sms.db.auth_tables import AUTH_TABLES, ApiTokenRow, LoginFailureRow, UserRow, WebSessionRow
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION, Database, make_engine
from pbx_sms.db.migrate import alembic_config
from pbx_sms.storage.accounts import add_account, remove_account
from pbx_sms.storage.api_tokens import authenticate_token, create_token, list_tokens, revoke_token
from pbx_sms.storage.credentials import csrf_matches, csrf_token
from pbx_sms.storage.database import open_database
from pbx_sms.storage.errors import AlreadyExists, InvalidValue, NotFound
from pbx_sms.storage.logins import LoginResult, login
from pbx_sms.storage.users import (
    add_user,
    change_password,
    get_user,
    list_users,
    remove_user,
    set_disabled,
    set_language,
)
from pbx_sms.storage.web_sessions import check_session, end_session, prune_sessions, start_session

# Cheap parameters: the tests hash often; production uses argon2-cffi's defaults (64 MiB, 3 passes).
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
STRONGER = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIMITS = SessionLimits(idle_s=1800, max_s=43200)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    with db.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL")
    yield db
    db.close()


def add(database: Database, name: str, role: str = "admin", account: str | None = "acme", **extra: str) -> None:
    with database.write_session() as session:
        add_user(session, name, role=role, account=account, password=PASSWORD, hasher=FAST, **extra)


def try_login(database: Database, name: str, password: str, now: datetime, address: str = "192.0.2.1") -> LoginResult:
    return login(database, name, password, address, now, hasher=FAST)


def user_count(database: Database) -> int:
    with database.session() as session:
        return len(session.scalars(select(UserRow)).all())


# --- users ---------------------------------------------------------------------------------------


def test_users_with_their_roles_and_accounts(database: Database) -> None:
    add(database, "Op", role="operator", account=None)
    add(database, "anna", role="admin", language="pl")
    add(database, "vic", role="viewer")
    with database.session() as session:
        users = {user.name: user for user in list_users(session)}
        assert list(users) == ["anna", "op", "vic"]  # names are lower case
        assert (users["op"].role, users["op"].account, users["op"].principal.account_id) == (Role.OPERATOR, None, None)
        assert (users["anna"].role, users["anna"].account, users["anna"].language) == (Role.ADMIN, "acme", "pl")
        assert users["vic"].principal.account_id == users["anna"].account_id is not None
        assert [user.name for user in list_users(session, "acme")] == ["anna", "vic"]
        assert get_user(session, "ANNA").password_hash.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("name", "role", "account", "language", "password", "error", "message"),
    [
        ("x y", "admin", "acme", "en", PASSWORD, InvalidValue, "user name 'x y': expected"),
        ("", "admin", "acme", "en", PASSWORD, InvalidValue, "user name '': expected"),
        ("a" * 65, "admin", "acme", "en", PASSWORD, InvalidValue, "user name"),
        ("bob", "root", "acme", "en", PASSWORD, InvalidValue, "role 'root': expected one of operator, admin, viewer"),
        ("bob", "operator", "acme", "en", PASSWORD, InvalidValue, "account: an operator works on every account"),
        ("bob", "admin", None, "en", PASSWORD, InvalidValue, "account: an admin belongs to one account"),
        ("bob", "viewer", "", "en", PASSWORD, InvalidValue, "account: a viewer belongs to one account"),
        ("bob", "admin", "nowhere", "en", PASSWORD, NotFound, "account 'nowhere' does not exist"),
        ("bob", "admin", "a\x00b", "en", PASSWORD, NotFound, "does not exist"),
        ("bob", "admin", "acme", "de", PASSWORD, InvalidValue, "language 'de': expected one of pl, en"),
        ("bob", "admin", "acme", "en", "short", InvalidValue, "password: expected at least 8 characters"),
        ("bob", "admin", "acme", "en", "x" * 1025, InvalidValue, "password: expected at most 1024"),
        ("bob", "admin", "acme", "en", "nul\x00in-it", InvalidValue, "password: must not contain a NUL"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    database: Database,
    name: str,
    role: str,
    account: str | None,
    language: str,
    password: str,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=re.escape(message)) as raised, database.write_session() as session:
        add_user(session, name, role=role, account=account, password=password, language=language, hasher=FAST)
    assert password not in str(raised.value)
    assert user_count(database) == 0


def test_the_language_can_be_changed_to_pl_or_en_only(database: Database) -> None:
    add(database, "anna")
    with database.write_session() as session:
        set_language(session, "anna", "PL")
        assert get_user(session, "anna").language == "pl"
        with pytest.raises(InvalidValue, match="language 'fr': expected one of pl, en"):
            set_language(session, "anna", "fr")
        with pytest.raises(NotFound, match="user 'bob' does not exist"):
            set_language(session, "bob", "en")


def test_a_name_is_taken_once_whatever_its_case(database: Database) -> None:
    add(database, "anna")
    with pytest.raises(AlreadyExists, match="user 'anna' already exists"):
        add(database, " ANNA ")


def test_removing_a_user_removes_their_tokens_and_sessions(database: Database) -> None:
    add(database, "anna")
    with database.write_session() as session:
        _, token = create_token(session, "anna", T0)
        secret = start_session(session, get_user(session, "anna").id, T0)
        remove_user(session, "anna")
    with database.write_session() as session:
        assert authenticate_token(session, token, at(1)) is None
        assert check_session(session, secret, at(1), LIMITS) is None
        assert session.scalars(select(ApiTokenRow)).all() == []
        with pytest.raises(NotFound, match="user 'anna' does not exist"):
            get_user(session, "anna")


def test_removing_an_account_removes_its_users(database: Database) -> None:
    add(database, "anna")
    add(database, "op", role="operator", account=None)
    with database.write_session() as session:
        create_token(session, "anna", T0)
        remove_account(session, "acme")
    with database.session() as session:
        assert [user.name for user in list_users(session)] == ["op"]
        assert session.scalars(select(ApiTokenRow)).all() == []


# --- passwords and logins ------------------------------------------------------------------------


def test_login_with_the_right_password_only(database: Database) -> None:
    add(database, "anna")
    result = try_login(database, "Anna", PASSWORD, T0)
    assert result.user is not None and result.user.name == "anna"
    for wrong in ("correct horse battery ", "", "x" * 5000):
        assert try_login(database, "anna", wrong, T0) == LoginResult()
    assert try_login(database, "nobody", PASSWORD, T0) == LoginResult()


def test_a_disabled_user_cannot_log_in_and_enabling_restores_it(database: Database) -> None:
    add(database, "anna")
    with database.write_session() as session:
        assert set_disabled(session, "anna", True) is True
        assert set_disabled(session, "anna", True) is False
    assert try_login(database, "anna", PASSWORD, T0).user is None
    with database.write_session() as session:
        set_disabled(session, "anna", False)
    assert try_login(database, "anna", PASSWORD, at(1)).user is not None


def test_a_changed_password_replaces_the_old_one(database: Database) -> None:
    add(database, "anna")
    with database.write_session() as session:
        change_password(session, "anna", "a new passphrase", hasher=FAST)
    assert try_login(database, "anna", PASSWORD, T0).user is None
    assert try_login(database, "anna", "a new passphrase", T0).user is not None


def test_a_hash_with_old_parameters_is_redone_at_login(database: Database) -> None:
    add(database, "anna")
    with database.session() as session:
        before = get_user(session, "anna").password_hash
    assert "t=1" in before
    assert login(database, "anna", PASSWORD, "192.0.2.1", T0, hasher=STRONGER).user is not None
    with database.session() as session:
        after = get_user(session, "anna").password_hash
    assert after != before and "m=16,t=2" in after
    assert login(database, "anna", PASSWORD, "192.0.2.1", T0, hasher=STRONGER).user is not None
    with database.session() as session:
        assert get_user(session, "anna").password_hash == after  # same parameters: left alone


def test_five_failures_for_one_user_throttle_it_from_any_address(database: Database) -> None:
    add(database, "anna")
    for second in range(5):
        result = try_login(database, "anna", "wrong password", at(second), address=f"198.51.100.{second}")
        assert result.retry_after_s is None
    throttled = try_login(database, "anna", PASSWORD, at(10), address="203.0.113.9")
    assert (throttled.user, throttled.retry_after_s) == (None, 50)
    assert try_login(database, "anna", PASSWORD, at(60)).user is not None


def test_five_failures_from_one_address_throttle_every_user_there(database: Database) -> None:
    add(database, "anna")
    for second, name in enumerate(["a1", "a2", "a3", "a4", "a5"]):
        try_login(database, name, "guess", at(second), address="203.0.113.7")
    assert try_login(database, "anna", PASSWORD, at(5), address="203.0.113.7").retry_after_s == 55
    assert try_login(database, "anna", PASSWORD, at(5), address="203.0.113.8").user is not None


def test_failures_are_kept_only_for_the_window(database: Database) -> None:
    for second in range(3):
        try_login(database, "anna", "guess", at(second))
    try_login(database, "anna", "guess", at(600))
    with database.session() as session:
        assert session.scalars(select(LoginFailureRow.failed_at)).all() == [at(600)]


def test_a_password_is_never_stored_or_logged_in_clear(
    database: Database, database_url: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-horse-secret"
    add(database, "anna")
    with database.write_session() as session:
        change_password(session, "anna", "second-secret-pass", hasher=FAST)
    try_login(database, "anna", wrong, T0)
    try_login(database, "anna", "second-secret-pass", T0)
    dumped = []
    with database.session() as session:
        for table in AUTH_TABLES:
            dumped += [repr(tuple(row)) for row in session.execute(text(f"SELECT * FROM {table}"))]
    everything = "\n".join(dumped) + caplog.text
    assert "login failed for user 'anna'" in caplog.text
    for secret in (PASSWORD, wrong, "second-secret-pass"):
        assert secret not in everything
    if database_url.startswith("sqlite"):
        database.close()
        files = tmp_path.glob("pbx-sms.db*")
        raw = b"".join(path.read_bytes() for path in files)
        assert raw and all(secret.encode() not in raw for secret in (PASSWORD, wrong, "second-secret-pass"))


# --- API tokens ----------------------------------------------------------------------------------


def test_a_token_authenticates_its_user_until_revoked(database: Database) -> None:
    add(database, "anna")
    with database.write_session() as session:
        view, token = create_token(session, "anna", T0, name="ci deploy")
    assert token.startswith("pbxsms_") and len(token) >= 40
    with database.write_session() as session:
        user = authenticate_token(session, token, at(5))
        assert user is not None and user.name == "anna" and user.principal.account_id is not None
        assert [(t.id, t.name, t.last_used_at) for t in list_tokens(session, "anna")] == [(view.id, "ci deploy", at(5))]
        row = session.get(ApiTokenRow, view.id)
        assert row is not None and token not in repr(vars(row)) and row.digest != token
        assert revoke_token(session, view.id, at(6))[1] is True
        assert revoke_token(session, view.id, at(7))[1] is False
        assert authenticate_token(session, token, at(8)) is None
        assert list_tokens(session)[0].revoked_at == at(6)


def test_a_disabled_users_tokens_are_refused(database: Database) -> None:
    add(database, "anna")
    with database.write_session() as session:
        _, token = create_token(session, "anna", T0)
        set_disabled(session, "anna", True)
        assert authenticate_token(session, token, at(1)) is None
        set_disabled(session, "anna", False)
        assert authenticate_token(session, token, at(2)) is not None


@pytest.mark.parametrize("presented", ["", "pbxsms_unknown", "x" * 10_000, "pbxsms_\x00", "żółw"])
def test_unknown_or_garbage_tokens_are_refused(database: Database, presented: str) -> None:
    add(database, "anna")
    with database.write_session() as session:
        create_token(session, "anna", T0)
        assert authenticate_token(session, presented, at(1)) is None


def test_token_errors_name_what_is_wrong(database: Database) -> None:
    add(database, "anna")
    with database.write_session() as session:
        with pytest.raises(NotFound, match="user 'bob' does not exist"):
            create_token(session, "bob", T0)
        with pytest.raises(InvalidValue, match="token name: expected at most 100"):
            create_token(session, "anna", T0, name="n" * 101)
        with pytest.raises(InvalidValue, match="token name: expected printable"):
            create_token(session, "anna", T0, name="tab\there")
        for missing in (999, 0, -1, 2**63):
            with pytest.raises(NotFound, match=f"token {missing} does not exist"):
                revoke_token(session, missing, T0)
        assert list_tokens(session) == []


# --- browser sessions ----------------------------------------------------------------------------


def start(database: Database, name: str = "anna", now: datetime = T0) -> str:
    with database.write_session() as session:
        return start_session(session, get_user(session, name).id, now)


def check(database: Database, secret: str, now: datetime) -> bool:
    with database.write_session() as session:
        return check_session(session, secret, now, LIMITS) is not None


def session_rows(database: Database) -> int:
    with database.session() as session:
        return len(session.scalars(select(WebSessionRow)).all())


def test_a_session_lives_while_used_and_ends_after_the_idle_limit(database: Database) -> None:
    add(database, "anna")
    secret = start(database)
    assert check(database, secret, at(1700))
    assert check(database, secret, at(3400))  # 1700 s after the last use
    assert not check(database, secret, at(3400 + 1800))
    assert session_rows(database) == 0  # ended for good: the row is gone
    assert not check(database, secret, at(3400 + 1801))


def test_a_session_ends_at_the_absolute_limit_however_busy(database: Database) -> None:
    add(database, "anna")
    secret = start(database)
    for minute in range(0, 720, 20):
        assert check(database, secret, at(minute * 60))
    assert not check(database, secret, at(43200))


def test_logout_ends_the_session(database: Database) -> None:
    add(database, "anna")
    secret = start(database)
    other = start(database)
    with database.write_session() as session:
        assert end_session(session, secret) is True
        assert end_session(session, secret) is False
    assert not check(database, secret, at(1))
    assert check(database, other, at(1))


def test_a_new_password_or_disabling_ends_every_session(database: Database) -> None:
    add(database, "anna")
    first, second = start(database), start(database)
    with database.write_session() as session:
        change_password(session, "anna", "a new passphrase", hasher=FAST)
    assert not check(database, first, at(1)) and not check(database, second, at(1))
    third = start(database)
    with database.write_session() as session:
        set_disabled(session, "anna", True)
    assert not check(database, third, at(2))


def test_session_ids_are_stored_as_digests_and_pruned(database: Database) -> None:
    add(database, "anna")
    old, fresh = start(database, now=T0), start(database, now=at(3000))
    with database.session() as session:
        digests = session.scalars(select(WebSessionRow.digest)).all()
    assert old not in digests and fresh not in digests and len(digests) == 2
    with database.write_session() as session:
        assert prune_sessions(session, at(3600), LIMITS) == 1
    assert check(database, fresh, at(3601))


def test_the_csrf_token_belongs_to_its_session() -> None:
    token = csrf_token("session-one")
    assert csrf_matches("session-one", token)
    assert not csrf_matches("session-two", token)
    assert not csrf_matches("session-one", "")
    assert not csrf_matches("session-one", token[:-1] + "ż")


# --- migration -----------------------------------------------------------------------------------


def test_the_migration_adds_the_tables_and_removes_them_again(database_url: str) -> None:
    open_database(database_url).close()
    engine = make_engine(database_url)
    try:
        assert set(AUTH_TABLES) <= set(inspect(engine).get_table_names())
        from pbx_sms.db.migrate import alembic_config

        with engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
            command.downgrade(alembic_config(connection), "0010")
        assert not set(AUTH_TABLES) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    open_database(database_url).close()  # and up again
    engine = make_engine(database_url)
    try:
        assert set(AUTH_TABLES) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_user_disabled_while_the_password_is_checked_is_not_logged_in(database: Database) -> None:
    add(database, "anna")

    class DisablingMidway(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            with database.write_session() as session:
                set_disabled(session, "anna", True)
            return FAST.verify(hash, password)

    hasher = DisablingMidway(time_cost=1, memory_cost=8, parallelism=1)
    assert login(database, "anna", PASSWORD, "192.0.2.1", T0, hasher=hasher) == LoginResult()


def test_uses_within_a_minute_are_not_written_down_again(database: Database) -> None:
    add(database, "anna")
    secret = start(database)
    with database.write_session() as session:
        _, token = create_token(session, "anna", T0)
    for second in (10, 30, 59):
        assert check(database, secret, at(second))
        with database.write_session() as session:
            assert authenticate_token(session, token, at(second)) is not None
    with database.session() as session:
        assert session.scalars(select(WebSessionRow.last_seen_at)).all() == [T0]
        assert list_tokens(session)[0].last_used_at == at(10)
    assert check(database, secret, at(60))
    with database.write_session() as session:
        authenticate_token(session, token, at(70))
    with database.session() as session:
        assert session.scalars(select(WebSessionRow.last_seen_at)).all() == [at(60)]
        assert list_tokens(session)[0].last_used_at == at(70)


def test_the_migration_builds_exactly_the_models_tables(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from pbx_sms.db.config_tables import Base

    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [diff for diff in differences if any(table in repr(diff) for table in AUTH_TABLES)] == []


def test_a_language_counts_as_the_users_choice_only_once_picked(database: Database) -> None:
    add(database, "ewa")
    add(database, "jan", language="pl")
    with database.session() as session:
        ewa, jan = list_users(session)
    assert (ewa.language, ewa.language_chosen, ewa.chosen_language) == ("en", False, None)
    assert (jan.language, jan.chosen_language) == ("pl", "pl")
    with database.write_session() as session:
        set_language(session, "ewa", "en")
    with database.session() as session:
        assert [user.chosen_language for user in list_users(session)] == ["en", "pl"]


def test_migration_0017_takes_polish_as_chosen_and_english_as_the_old_default(database: Database) -> None:
    add(database, "ewa", language="en")
    add(database, "jan", language="pl")
    with database.write_session() as session:
        create_token(session, "jan", T0)
    with database.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
        command.downgrade(alembic_config(connection), "0016")
    assert "language_chosen" not in {column["name"] for column in inspect(database.engine).get_columns("users")}
    with database.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    with database.session() as session:
        chosen = {user.name: user.chosen_language for user in list_users(session)}
        assert session.scalar(select(func.count()).select_from(UserRow)) == 2  # nothing lost on the way down
        assert session.scalar(select(func.count()).select_from(ApiTokenRow)) == 1  # no cascade from a table copy
    assert chosen == {"ewa": None, "jan": "pl"}
