"""The audit log: one entry per change made through the storage functions, in the change's transaction,
without secrets; and `pbx-sms audit`. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from cli_helpers import admin_cli
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.db.audit_table import AUDIT_TABLE, AuditEntryRow
from pbx_sms.db.auth_tables import ApiTokenRow, UserRow
from pbx_sms.db.config_tables import CompanyNumber
from pbx_sms.db.engine import Database
from pbx_sms.storage.accounts import AccountChanges, add_account, get_account, remove_account, update_account
from pbx_sms.storage.actor import set_actor
from pbx_sms.storage.api_tokens import authenticate_token, create_token, revoke_token
from pbx_sms.storage.audit_entries import AuditEntry, AuditQuery, differences, list_entries
from pbx_sms.storage.database import open_database
from pbx_sms.storage.errors import InvalidValue
from pbx_sms.storage.logins import login
from pbx_sms.storage.numbers import add_number, add_sender, remove_number, remove_sender
from pbx_sms.storage.optouts import add_optout, remove_optout
from pbx_sms.storage.rule_store import RuleSource, delete_rule, import_rules, set_rule_enabled
from pbx_sms.storage.users import add_user, change_password, remove_user, set_disabled, set_language
from pbx_sms.storage.web_sessions import start_session

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ACTOR = "cli:tester"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

RULES = """
account: acme
rules:
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered], talk_s: {min: 20}}
    then: {sender: ACME, to: [other_party], text: "Thank you for calling", min_interval_s: 3600}
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer, busy]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed you"}
"""


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    with db.write_session() as session:
        set_actor(session, "cli:setup")
        add_account(session, "acme", timezone="America/New_York", country="PL")
        add_sender(session, "ACME", "acme")
    yield db
    db.close()


def entries(database: Database, query: AuditQuery | None = None) -> list[AuditEntry]:
    with database.session() as session:
        return list_entries(session, query or AuditQuery(limit=1000))


def change(database: Database, do: Callable[[Session], Any], actor: str = ACTOR) -> list[AuditEntry]:
    """Run ``do`` in one write session as ``actor``; the entries it wrote, oldest first."""
    last = max((entry.id for entry in entries(database)), default=0)
    with database.write_session() as session:
        set_actor(session, actor)
        do(session)
    return [entry for entry in reversed(entries(database)) if entry.id > last]


def one(database: Database, do: Callable[[Session], Any], actor: str = ACTOR) -> AuditEntry:
    found = change(database, do, actor)
    assert len(found) == 1, found
    assert found[0].actor == actor
    return found[0]


def import_acme(text: str, replace: bool = False) -> Callable[[Session], Any]:
    return lambda session: import_rules(
        session, [RuleSource("r.yaml", "acme", parse_rule_text(text).rules)], replace=replace
    )


def test_accounts_create_update_switch_and_removal(database: Database) -> None:
    created = one(
        database, lambda s: add_account(s, "globex", timezone="Europe/Berlin", country="DE", allowed_countries=["DE"])
    )
    assert (created.entity, created.key, created.action, created.account) == ("account", "globex", "create", "globex")
    assert created.before is None
    assert created.after == {
        "name": "globex",
        "timezone": "Europe/Berlin",
        "country": "DE",
        "allowed_countries": ["DE"],
        "sms_enabled": True,
        "daily_cap": 200,
        "quiet_hours": None,
    }

    updated = one(
        database, lambda s: update_account(s, "globex", AccountChanges(daily_cap=5, quiet_hours="21:00-08:00"))
    )
    assert updated.action == "update"
    assert updated.changes() == [("daily_cap", 200, 5), ("quiet_hours", None, "21:00-08:00")]

    switched_off = one(database, lambda s: update_account(s, "globex", AccountChanges(sms_enabled=False)))
    assert (switched_off.action, switched_off.changes()) == ("disable", [("sms_enabled", True, False)])
    assert one(database, lambda s: update_account(s, "globex", AccountChanges(sms_enabled=True))).action == "enable"
    assert change(database, lambda s: update_account(s, "globex", AccountChanges(daily_cap=5))) == []

    removed = one(database, lambda s: remove_account(s, "globex"))
    assert (removed.action, removed.after, removed.account) == ("delete", None, "globex")
    assert removed.before is not None and removed.before["daily_cap"] == 5


def test_removing_an_account_is_one_entry_and_its_history_survives_by_name_only(database: Database) -> None:
    with database.session() as session:
        acme_id = get_account(session, "acme").id
    change(database, lambda s: add_number(s, "+48221234567", "acme"))
    change(database, import_acme(RULES))
    change(database, lambda s: add_optout(s, "+48600100100", "acme", "PL"))
    assert len(entries(database, AuditQuery(account_id=acme_id))) == 6  # account, sender, number, 2 rules, opt-out

    removed = one(database, lambda s: remove_account(s, "acme"))  # its numbers, rules, ... go with it
    assert (removed.entity, removed.action) == ("account", "delete")
    # The id is gone (a new "acme" must not inherit this history); the name stays for the operator.
    assert entries(database, AuditQuery(account_id=acme_id)) == []
    assert len(entries(database, AuditQuery(account_name="acme"))) == 7
    with database.write_session() as session:
        again = add_account(session, "acme", timezone="Europe/Warsaw", country="PL")
    assert [entry.action for entry in entries(database, AuditQuery(account_id=again.id))] == ["create"]


def test_numbers_senders_and_optouts(database: Database) -> None:
    added = one(database, lambda s: add_number(s, "22 123 45 67", "acme"))
    assert (added.entity, added.key, added.action, added.account, added.after) == (
        "number",
        "+48221234567",
        "create",
        "acme",
        {"e164": "+48221234567"},
    )
    removed = one(database, lambda s: remove_number(s, "+48221234567", "acme"))
    assert (removed.action, removed.before, removed.after) == ("delete", {"e164": "+48221234567"}, None)

    sender = one(database, lambda s: add_sender(s, "Globex", "acme"))
    assert (sender.entity, sender.key, sender.action, sender.after) == (
        "sender",
        "Globex",
        "create",
        {"sender": "Globex"},
    )
    assert one(database, lambda s: remove_sender(s, "Globex", "acme")).action == "delete"

    own = one(database, lambda s: add_optout(s, "600 100 100", "acme", "PL"))
    assert (own.entity, own.key, own.account, own.after) == (
        "optout",
        "+48600100100",
        "acme",
        {"e164": "+48600100100", "account": "acme"},
    )
    everywhere = one(database, lambda s: add_optout(s, "+48600200200", None, "PL"))
    assert (everywhere.account, everywhere.after) == (None, {"e164": "+48600200200", "account": None})
    gone = one(database, lambda s: remove_optout(s, "+48600200200", None, "PL"))
    assert (gone.action, gone.account, gone.before) == ("delete", None, {"e164": "+48600200200", "account": None})
    assert one(database, lambda s: remove_optout(s, "+48600100100", "acme", "PL")).account == "acme"


def test_rules_are_recorded_as_rule_documents(database: Database) -> None:
    created = change(database, import_acme(RULES))
    assert [(entry.key, entry.action, entry.account) for entry in created] == [
        ("Thanks", "create", "acme"),
        ("Missed", "create", "acme"),
    ]
    assert created[0].after == {
        "name": "Thanks",
        "enabled": True,
        "when": {"direction": "in", "numbers": "all", "status": ["answered"], "talk_s": {"min": 20}},
        "then": {
            "sender": "ACME",
            "to": ["other_party"],
            "text": "Thank you for calling",
            "delay_s": 0,
            "min_interval_s": 3600,
            "transliterate": False,
        },
    }
    assert change(database, import_acme(RULES)) == []  # identical: no change, no entry

    edited = one(database, import_acme(RULES.replace("min: 20", "min: 30").replace("calling", "calling us")))
    assert (edited.key, edited.action) == ("Thanks", "update")
    assert edited.changes() == [
        ("when.talk_s.min", 20, 30),
        ("then.text", "Thank you for calling", "Thank you for calling us"),
    ]

    disabled = one(database, lambda s: set_rule_enabled(s, "acme", "Missed", False))
    assert (disabled.key, disabled.action, disabled.changes()) == ("Missed", "disable", [("enabled", True, False)])
    assert one(database, lambda s: set_rule_enabled(s, "acme", "Missed", True)).action == "enable"
    assert change(database, lambda s: set_rule_enabled(s, "acme", "Missed", True)) == []

    deleted = one(database, lambda s: delete_rule(s, "acme", "Missed"))
    assert (deleted.key, deleted.action, deleted.after) == ("Missed", "delete", None)
    assert deleted.before is not None and deleted.before["then"]["text"] == "Sorry we missed you"

    only_new = RULES.split("  - name: Missed")[0].replace("Thanks", "Hello")
    replaced = change(database, import_acme(only_new, replace=True))
    assert sorted((entry.key, entry.action) for entry in replaced) == [("Hello", "create"), ("Thanks", "delete")]


def test_users_and_tokens(database: Database) -> None:
    def add(session: Session) -> None:
        add_user(session, "jan", role="admin", account="acme", password="correct horse", hasher=FAST)

    created = one(database, add)
    assert (created.entity, created.key, created.action, created.account) == ("user", "jan", "create", "acme")
    assert created.after == {"name": "jan", "role": "admin", "account": "acme", "language": "en", "disabled": False}

    language = one(database, lambda s: set_language(s, "jan", "pl"))
    assert (language.action, language.changes()) == ("update", [("language", "en", "pl")])
    password = one(database, lambda s: change_password(s, "jan", "battery staple", hasher=FAST))
    assert (password.action, password.changes()) == ("password", [])
    assert one(database, lambda s: set_disabled(s, "jan", True)).action == "disable"
    assert one(database, lambda s: set_disabled(s, "jan", False)).action == "enable"

    token_created = change(database, lambda s: create_token(s, "jan", NOW, name="ci"))
    assert len(token_created) == 1
    token = token_created[0]
    with database.session() as session:
        token_id = session.scalar(select(ApiTokenRow.id))
    assert (token.entity, token.key, token.action, token.account) == ("token", str(token_id), "create", "acme")
    assert token.after == {
        "id": token_id,
        "user": "jan",
        "name": "ci",
        "created_at": NOW.isoformat(),
        "revoked_at": None,
    }

    revoked = one(database, lambda s: revoke_token(s, token_id, NOW + timedelta(hours=1)))
    assert (revoked.action, revoked.changes()) == (
        "revoke",
        [("revoked_at", None, (NOW + timedelta(hours=1)).isoformat())],
    )

    operator = one(database, lambda s: add_user(s, "root", role="operator", password="correct horse", hasher=FAST))
    assert (operator.account, operator.after and operator.after["account"]) == (None, None)

    with database.write_session() as session:
        create_token(session, "jan", NOW)
    removed = one(database, lambda s: remove_user(s, "jan"))  # with its tokens and sessions: one change
    assert (removed.entity, removed.action, removed.after) == ("user", "delete", None)


def test_using_a_token_or_logging_in_is_no_change(database: Database) -> None:
    with database.write_session() as session:
        add_user(session, "jan", role="viewer", account="acme", password="correct horse", hasher=FAST)
        _view, token = create_token(session, "jan", NOW)
    assert change(database, lambda s: authenticate_token(s, token, NOW + timedelta(hours=1))) == []
    with database.session() as session:
        assert session.scalar(select(ApiTokenRow.last_used_at)) == NOW + timedelta(hours=1)  # it did write
        user_id = session.scalar(select(UserRow.id)) or 0
    assert change(database, lambda s: start_session(s, user_id, NOW)) == []


def test_a_hash_redone_at_login_is_no_change(database: Database) -> None:
    with database.write_session() as session:
        add_user(session, "jan", role="viewer", account="acme", password="correct horse", hasher=FAST)
    with database.session() as session:
        old_hash = session.scalar(select(UserRow.password_hash))
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert change(database, lambda _s: login(database, "jan", "correct horse", "192.0.2.1", NOW, hasher=stronger)) == []
    with database.session() as session:
        assert session.scalar(select(UserRow.password_hash)) != old_hash  # it was redone


def test_no_secret_is_ever_in_an_entry(database: Database) -> None:
    secrets: list[str] = []

    def everything(session: Session) -> None:
        add_user(session, "jan", role="admin", account="acme", password="correct horse", hasher=FAST)
        change_password(session, "jan", "battery staple", hasher=FAST)
        _view, token = create_token(session, "jan", NOW)
        user = session.scalar(select(UserRow).where(UserRow.name == "jan"))
        assert user is not None
        secrets.extend([token, user.password_hash, session.scalar(select(ApiTokenRow.digest)) or "?"])
        secrets.append(start_session(session, user.id, NOW))
        revoke_token(session, session.scalar(select(ApiTokenRow.id)) or 0, NOW)
        set_disabled(session, "jan", True)
        remove_user(session, "jan")

    written = change(database, everything)
    assert [entry.action for entry in written] == ["create", "password", "create", "revoke", "disable", "delete"]
    with database.session() as session:
        stored = [row.before or "" for row in session.scalars(select(AuditEntryRow))]
        stored += [row.after or "" for row in session.scalars(select(AuditEntryRow))]
    text = "\n".join(stored)
    for secret in [*secrets, "correct horse", "battery staple", "$argon2", "password_hash", "digest"]:
        assert secret not in text


def test_a_failed_change_leaves_no_entry(database: Database) -> None:
    before = entries(database)

    def half_done(session: Session) -> None:
        add_number(session, "+48221234567", "acme")  # flushed: its entry is written...
        update_account(session, "acme", AccountChanges(timezone="Mars/Olympus"))  # ...then this fails

    with pytest.raises(InvalidValue):
        change(database, half_done)
    assert entries(database) == before
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(CompanyNumber)) == 0


def test_an_entry_edited_by_hand_still_reads(database: Database) -> None:
    with database.write_session() as session:
        session.execute(update(AuditEntryRow).values(after="not json"))
    assert {json.dumps(entry.after) for entry in entries(database)} == {json.dumps({"unreadable": "not json"})}


def test_differences_are_dotted_paths_in_document_order() -> None:
    before = {"a": 1, "when": {"status": ["busy"], "talk_s": {"min": 1}}, "gone": True}
    after = {"a": 1, "when": {"status": ["busy", "no_answer"]}, "new": "x"}
    assert differences(before, after) == [
        ("when.status", ["busy"], ["busy", "no_answer"]),
        ("when.talk_s", {"min": 1}, None),
        ("gone", True, None),
        ("new", None, "x"),
    ]


def test_the_migration_builds_exactly_the_models_table(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from pbx_sms.db.config_tables import Base

    with database.engine.connect() as connection:
        differences_found = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert [diff for diff in differences_found if AUDIT_TABLE in repr(diff)] == []


def test_the_migration_goes_down_and_up_again(database: Database, database_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from pbx_sms.db.engine import SQLITE_BEGIN_OPTION
    from pbx_sms.db.migrate import alembic_config

    assert entries(database) != []
    with database.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
        command.downgrade(alembic_config(connection), "0011")
    assert AUDIT_TABLE not in inspect(database.engine).get_table_names()
    open_database(database_url).close()  # up again, empty
    assert entries(database) == []


# --- pbx-sms audit -------------------------------------------------------------------------------


def test_cli_lists_filters_and_prints_json(database: Database, database_url: str) -> None:
    cli = admin_cli(database_url)
    cli("accounts", "add", "globex", "--timezone", "Asia/Tokyo")
    cli("numbers", "add", "+48221234567", "--account", "globex")
    cli("accounts", "set", "globex", "--daily-cap", "7")

    table = cli("audit").output.splitlines()
    assert table[0].split() == ["ID", "AT", "(Europe/Warsaw)", "ACTOR", "ACCOUNT", "ENTITY", "KEY", "ACTION", "CHANGES"]
    assert len(table) == 1 + 5  # acme and its sender (setup), then the three changes above, newest first
    assert table[1].split()[4:] == ["globex", "account", "globex", "update", "daily_cap:", "200", "→", "7"]
    assert table[1].split()[3].startswith("cli:")  # the date and time are split()[1:3]
    assert table[5].split()[3:8] == ["cli:setup", "acme", "account", "acme", "create"]

    globex = cli("audit", "--account", "globex", "--entity", "number").output.splitlines()
    assert globex[0].split()[1:3] == ["AT", "(Asia/Tokyo)"]  # the account's own time zone
    assert [line.split()[4:8] for line in globex[1:]] == [["globex", "number", "+48221234567", "create"]]
    at_utc = datetime.fromisoformat(json.loads(cli("audit", "--json", "--limit", "1").output)[0]["at"])
    shown = cli("audit", "--account", "globex", "--limit", "1").output.splitlines()[1].split()[1:3]
    assert " ".join(shown) == at_utc.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")

    rows = json.loads(cli("audit", "--json", "--limit", "2").output)
    assert [(row["entity"], row["action"]) for row in rows] == [("account", "update"), ("number", "create")]
    assert rows[0]["before"]["daily_cap"] == 200 and rows[0]["after"]["daily_cap"] == 7
    assert datetime.fromisoformat(rows[0]["at"]).utcoffset() == timedelta(0)

    assert len(json.loads(cli("audit", "--json", "--days", "1").output)) == 5
    assert json.loads(cli("audit", "--json", "--since", "2999-01-01").output) == []
    assert json.loads(cli("audit", "--json", "--account", "nobody").output) == []

    assert "entity 'rules': expected one of rule, account" in cli("audit", "--entity", "rules", code=1).output
    assert "give one of them" in cli("audit", "--since", "1d", "--days", "1", code=1).output


def test_cli_table_keeps_one_entry_on_one_line(database: Database, database_url: str) -> None:
    change(database, import_acme(RULES))
    change(database, import_acme(RULES.replace('"Sorry we missed you"', '"Sorry\\nwe missed you"')))
    output = admin_cli(database_url)("audit", "--entity", "rule", "--limit", "1").output
    assert len(output.splitlines()) == 2
    assert "\x1b" not in output
    assert '"Sorry we missed you" → "Sorry\\nwe missed you' in output
