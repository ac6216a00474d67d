"""Quiet hours in the configuration database and the admin CLI, on SQLite and PostgreSQL.

Migration 0004 adds ``accounts.quiet_hours`` (NULL: existing installs keep sending around the clock)
and ``outbox.note``; the change counter still moves when quiet hours change; the CLI validates them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import time

import pytest
from alembic import command
from cli_helpers import Cli, admin_cli
from sqlalchemy import inspect, text

from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION, Database, make_engine
from pbx_sms.db.migrate import alembic_config, current_revision, head_revision
from pbx_sms.storage.accounts import AccountChanges, add_account, get_account, update_account
from pbx_sms.storage.config_cache import ConfigCache, config_version
from pbx_sms.storage.database import open_database
from pbx_sms.storage.errors import InvalidValue


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    yield db
    db.close()


def version(database: Database) -> int | None:
    with database.session() as session:
        return config_version(session)


def migrate(database_url: str, revision: str, *, down: bool = False) -> None:
    engine = make_engine(database_url)
    try:
        with engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
            (command.downgrade if down else command.upgrade)(alembic_config(connection), revision)
    finally:
        engine.dispose()


def columns(database_url: str, table: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return {column["name"] for column in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


# --- migration -----------------------------------------------------------------------------------


def test_existing_accounts_get_no_quiet_hours_and_the_upgrade_is_reversible(database_url: str) -> None:
    migrate(database_url, "0003")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (name, timezone, country, allowed_countries) "
                "VALUES ('old', 'Europe/Warsaw', 'PL', 'PL')"
            )
        )
    engine.dispose()
    assert "quiet_hours" not in columns(database_url, "accounts")

    database = open_database(database_url)  # upgrades to head, as every command does
    with database.session() as session:
        assert current_revision(session.connection()) == head_revision()
        assert get_account(session, "old").quiet_hours is None
    database.close()
    assert "note" in columns(database_url, "outbox")

    migrate(database_url, "0003", down=True)
    assert "quiet_hours" not in columns(database_url, "accounts")
    assert "note" not in columns(database_url, "outbox")
    # The in-place column drop kept the accounts table's triggers.
    database = open_database(database_url)
    before = version(database)
    with database.session() as session:
        session.execute(text("UPDATE accounts SET daily_cap = 3 WHERE name = 'old'"))
    assert (version(database) or 0) > (before or 0)
    database.close()


# --- values and the change counter -----------------------------------------------------------------


def test_quiet_hours_are_validated_stored_canonically_and_cleared(database: Database) -> None:
    with database.write_session() as session:
        account = update_account(session, "default", AccountChanges(quiet_hours=" 21:00 - 8:00 "))
        assert account.quiet_hours == "21:00-08:00"
        with pytest.raises(InvalidValue, match="quiet hours '9pm-8am': expected \"HH:MM-HH:MM\""):
            update_account(session, "default", AccountChanges(quiet_hours="9pm-8am"))
        with pytest.raises(InvalidValue, match='quiet hours "08:00-08:00": start and end are the same'):
            update_account(session, "default", AccountChanges(quiet_hours="08:00-08:00"))
        with pytest.raises(InvalidValue, match="got '25:00'"):
            add_account(session, "x", timezone="UTC", country="PL", quiet_hours="25:00-06:00")
        added = add_account(session, "night-owls", timezone="UTC", country="PL", quiet_hours="23:00-06:00")
        assert added.quiet_hours == "23:00-06:00"
    with database.write_session() as session:
        assert update_account(session, "default", AccountChanges(clear_quiet_hours=True)).quiet_hours is None


def test_changing_quiet_hours_bumps_the_change_counter_and_reaches_the_daemon(database: Database) -> None:
    clock = [0.0]
    cache = ConfigCache(database, check_interval_s=1.0, clock=lambda: clock[0])
    assert cache.snapshot().accounts["default"].quiet_hours is None
    before = version(database)
    with database.write_session() as session:
        update_account(session, "default", AccountChanges(quiet_hours="21:00-08:00"))
    assert (version(database) or 0) > (before or 0)
    clock[0] = 1.0
    assert cache.snapshot().accounts["default"].quiet_hours == QuietHours(time(21), time(8))
    # A hand-written UPDATE counts too, and touches updated_at.
    with database.session() as session:
        session.execute(text("UPDATE accounts SET updated_at = '2020-01-01 00:00:00' WHERE name = 'default'"))
    before = version(database)
    with database.session() as session:
        session.execute(text("UPDATE accounts SET quiet_hours = '22:00-07:00' WHERE name = 'default'"))
    assert (version(database) or 0) > (before or 0)
    with database.session() as session:
        assert get_account(session, "default").updated_at.year > 2020
    clock[0] = 2.0
    assert str(cache.snapshot().accounts["default"].quiet_hours) == "22:00-07:00"


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str) -> Cli:
    return admin_cli(database_url)


def test_cli_sets_shows_and_removes_quiet_hours(cli: Cli) -> None:
    shown = json.loads(cli("accounts", "show", "default", "--json").stdout)
    assert shown["quiet_hours"] is None
    assert "quiet hours:       none" in cli("accounts", "show", "default").stdout

    cli("accounts", "set", "default", "--quiet-hours", "21:00-08:00")
    assert json.loads(cli("accounts", "show", "default", "--json").stdout)["quiet_hours"] == "21:00-08:00"
    assert "quiet hours:       21:00-08:00" in cli("accounts", "show", "default").stdout
    table = cli("accounts", "list").stdout.splitlines()
    assert "QUIET HOURS" in table[0] and table[1].endswith("21:00-08:00")
    assert [account["quiet_hours"] for account in json.loads(cli("accounts", "list", "--json").stdout)] == [
        "21:00-08:00"
    ]

    cli("accounts", "add", "acme", "--quiet-hours", "22:00-7:30")
    assert json.loads(cli("accounts", "show", "acme", "--json").stdout)["quiet_hours"] == "22:00-07:30"

    cli("accounts", "set", "default", "--no-quiet-hours")
    assert json.loads(cli("accounts", "show", "default", "--json").stdout)["quiet_hours"] is None


def test_cli_refuses_bad_quiet_hours_with_a_clear_message(cli: Cli) -> None:
    out = cli("accounts", "set", "default", "--quiet-hours", "21-8", code=1).output
    assert "quiet hours '21-8': expected \"HH:MM-HH:MM\"" in out and "21:00-08:00" in out
    out = cli("accounts", "set", "default", "--quiet-hours", "08:00-08:00", code=1).output
    assert "start and end are the same" in out
    out = cli("accounts", "set", "default", "--quiet-hours", "21:00-08:00", "--no-quiet-hours", code=2).output
    assert "contradict" in out
    assert json.loads(cli("accounts", "show", "default", "--json").stdout)["quiet_hours"] is None


def test_cli_shows_a_hand_written_invalid_value_as_ignored(cli: Cli, database_url: str) -> None:
    cli("accounts", "list")  # creates the database
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE accounts SET quiet_hours = 'nights' WHERE name = 'default'"))
    engine.dispose()
    assert "'nights' is not valid and is ignored" in cli("accounts", "show", "default").stdout
