"""The configuration database on SQLite and PostgreSQL: schema, defaults, integrity, change detection."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from paths import ROOT
from sqlalchemy import func, select, text

from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.db.config_tables import RuleRow
from pbx_sms.db.engine import Database
from pbx_sms.db.migrate import current_revision, head_revision
from pbx_sms.db.url import DatabaseUrlError, normalise_database_url, safe_url
from pbx_sms.storage.accounts import AccountChanges, account_for_number, add_account, get_account, update_account
from pbx_sms.storage.config_cache import DEFAULT_CHECK_INTERVAL_S, ConfigCache, config_version
from pbx_sms.storage.database import open_database
from pbx_sms.storage.errors import AlreadyExists, InvalidValue, Refused
from pbx_sms.storage.numbers import add_number, add_sender, remove_number, remove_sender
from pbx_sms.storage.optouts import add_optout, list_optouts, remove_optout
from pbx_sms.storage.records import DEFAULT_DAILY_CAP
from pbx_sms.storage.rule_rows import RULE_COLUMNS
from pbx_sms.storage.rule_store import (
    ImportRejected,
    RuleSource,
    delete_rule,
    export_rules,
    import_rules,
    load_account_rules,
    load_rules_for_number,
    set_rule_enabled,
    stored_rules,
)

DOCS = ROOT / "docs" / "schema.md"

RULES = """
account: default
rules:
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered], talk_s: {min: 20}}
    then: {sender: ACME, to: [other_party], text: "Thank you for calling {number}", min_interval_s: 3600}
  - name: Missed
    when:
      direction: in
      numbers: ["+48221234567"]
      status: [no_answer, busy]
      schedule: {weekdays: [mon, fri], hours: [{from: "18:00", to: "08:00"}]}
    then: {sender: ACME, to: [other_party, "+48600100100"], text: "Sorry we missed you", delay_s: 60, max_parts: 2}
"""


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url, timezone="Europe/Berlin", country="DE")
    yield db
    db.close()


def seed(database: Database) -> None:
    with database.write_session() as session:
        add_sender(session, "ACME", "default")
        import_rules(session, [RuleSource("rules.yaml", "default", parse_rule_text(RULES).rules)])


def version(database: Database) -> int | None:
    with database.session() as session:
        return config_version(session)


def rule_rows(database: Database) -> list[tuple[object, ...]]:
    with database.session() as session:
        columns = [getattr(RuleRow, name) for name in ("id", "name", *RULE_COLUMNS, "created_at", "updated_at")]
        return [tuple(row) for row in session.execute(select(*columns).order_by(RuleRow.name))]


# --- URLs --------------------------------------------------------------------------------------


def test_urls_are_rewritten_to_the_shipped_driver_and_passwords_stay_hidden() -> None:
    assert normalise_database_url("postgresql://u:pw@h/db").drivername == "postgresql+psycopg"
    assert normalise_database_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_database_url("sqlite:///x.db").database == "x.db"
    assert "pw" not in safe_url(normalise_database_url("postgresql://u:pw@h/db"))
    for bad in ("mysql://u@h/db", "nonsense", "postgresql://u@h", "sqlite://host/x.db"):
        with pytest.raises(DatabaseUrlError, match="PBX_SMS_DATABASE_URL"):
            normalise_database_url(bad)


# --- schema and defaults -----------------------------------------------------------------------


def test_fresh_database_is_at_head_with_the_default_account(database: Database, database_url: str) -> None:
    with database.engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    with database.session() as session:
        default = get_account(session, "default")
        assert (default.timezone, default.country, default.allowed_countries) == ("Europe/Berlin", "DE", "DE")
        # A fresh install is capped (before: no cap, so SMS pumping had no bound).
        assert default.sms_enabled is True and default.daily_cap == DEFAULT_DAILY_CAP
        default.daily_cap = None  # an admin's explicit "no cap"
    # Opening again (another process, other settings) changes nothing.
    again = open_database(database_url, timezone="Asia/Tokyo", country="JP")
    with again.session() as session:
        kept = get_account(session, "default")
        assert (kept.timezone, kept.daily_cap) == ("Europe/Berlin", None)
    again.close()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    database.close()


def test_a_number_no_account_owns_belongs_to_default(database: Database) -> None:
    with database.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL")
        add_number(session, "22 123 45 67", "acme")
    with database.session() as session:
        assert account_for_number(session, "+48221234567").name == "acme"
        assert account_for_number(session, "+48227654321").name == "default"
        assert account_for_number(session, None).name == "default"


def test_account_values_are_validated(database: Database) -> None:
    with database.write_session() as session:
        with pytest.raises(InvalidValue, match="time zone 'Mars/Base'"):
            add_account(session, "x", timezone="Mars/Base", country="PL")
        with pytest.raises(InvalidValue, match="country 'POL'"):
            update_account(session, "default", AccountChanges(country="POL"))
        with pytest.raises(AlreadyExists):
            add_account(session, "default", timezone="Europe/Warsaw", country="PL")
        account = update_account(session, "default", AccountChanges(allowed_countries=["pl", "de"], daily_cap=5))
        assert (account.allowed_countries, account.daily_cap) == ("DE,PL", 5)


# --- import, export, integrity -------------------------------------------------------------------


def test_import_with_any_error_is_rejected_whole_and_lists_every_error(database: Database) -> None:
    seed(database)
    before_rows, before_version = rule_rows(database), version(database)
    with database.write_session() as session:
        add_account(session, "other", timezone="Europe/Warsaw", country="PL")
        add_number(session, "+48227654321", "other")
    before_version = version(database)
    bad = parse_rule_text(
        RULES.replace("Thank you for calling", "Changed")  # a valid change that must not land either
        + """
  - name: Foreign number
    when: {direction: in, numbers: ["+48227654321"], status: [busy]}
    then: {sender: ACME, to: [other_party], text: "x"}
  - name: Unknown sender
    when: {direction: out, numbers: all, status: [busy]}
    then: {sender: NOPE, to: [other_party], text: "x"}
"""
    )
    duplicate = parse_rule_text(RULES).rules[:1]
    with database.write_session() as session, pytest.raises(ImportRejected) as rejected:
        import_rules(session, [RuleSource("a.yaml", "default", bad.rules), RuleSource("b.yaml", "default", duplicate)])
    errors = "\n".join(rejected.value.errors)
    assert len(rejected.value.errors) == 3
    foreign = "a.yaml: rules[2] ('Foreign number'): when.numbers[0]: number +48227654321 belongs to account 'other'"
    assert foreign in errors
    assert "a.yaml: rules[3] ('Unknown sender'): then.sender: sender 'NOPE' is not a sender" in errors
    assert (
        "b.yaml: rules[0] ('Thanks'): name: duplicate rule name in account 'default' (also a.yaml: rules[0])" in errors
    )
    assert rule_rows(database) == before_rows
    assert version(database) == before_version


def test_a_rule_leaving_out_calls_seen_in_part_is_stored_exported_and_used(database: Database) -> None:
    seed(database)
    only_full = RULES.replace("status: [answered],", "status: [answered], evidence: [full],")
    with database.write_session() as session:
        import_rules(session, [RuleSource("e.yaml", "default", parse_rule_text(only_full).rules)], replace=True)
    with database.session() as session:
        stored = session.execute(text("SELECT name, evidence FROM rules ORDER BY name")).all()
        exported = export_rules(session, "default")
        _, rules = load_account_rules(session, "default")
    assert ("Thanks", "full") in stored and ("Missed", None) in stored  # NULL: every call, as before
    assert {rule.name: rule.when.evidence for rule in parse_rule_text(exported).rules}["Thanks"] == ["full"]
    assert exported.count("evidence") == 1  # left out where it is the default
    assert {rule.name: rule.when.evidence for rule in rules}["Thanks"] == ["full"]
    assert {rule.name: rule.when.acts_on_every_call for rule in rules} == {"Missed": True, "Thanks": False}
    # The round trip: exporting and importing again changes nothing.
    with database.write_session() as session:
        again = import_rules(session, [RuleSource("x.yaml", "default", parse_rule_text(exported).rules)], replace=True)
    assert again.added == [] and again.updated == [] and again.deleted == []


def test_a_number_the_account_does_not_own_is_rejected(database: Database) -> None:
    with database.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL")
        add_sender(session, "ACME", "acme")
        rules = parse_rule_text(RULES).rules
        with pytest.raises(ImportRejected, match=r"number \+48221234567 is not a number of account 'acme'"):
            import_rules(session, [RuleSource("f.yaml", "acme", rules)])


def test_export_import_replace_is_a_no_op_and_exports_are_identical(database: Database) -> None:
    seed(database)
    with database.session() as session:
        first = export_rules(session, "default")
    rows, before = rule_rows(database), version(database)
    with database.write_session() as session:
        result = import_rules(session, [RuleSource("e.yaml", "default", parse_rule_text(first).rules)], replace=True)
    assert (result.added, result.updated, result.deleted) == ([], [], [])
    assert sorted(result.unchanged) == ["default/Missed", "default/Thanks"]
    assert rule_rows(database) == rows  # timestamps included
    assert version(database) == before
    with database.session() as session:
        assert export_rules(session, "default") == first
    assert "name: Missed" in first and '"18:00"' in first


def test_replace_makes_the_rules_exactly_those_of_the_files(database: Database) -> None:
    seed(database)
    only_thanks = parse_rule_text(RULES).rules[:1]
    changed = only_thanks[0].model_copy(update={"then": only_thanks[0].then.model_copy(update={"delay_s": 5})})
    with database.write_session() as session:
        result = import_rules(session, [RuleSource("f.yaml", "default", [changed])], replace=True)
    assert (result.updated, result.deleted) == (["default/Thanks"], ["default/Missed"])
    with database.session() as session:
        rules = stored_rules(session, "default")
    assert [(stored.name, stored.rule) for stored in rules] == [("Thanks", changed)]


def test_disable_then_enable_restores_the_rule_exactly(database: Database) -> None:
    seed(database)
    before = rule_rows(database)
    with database.write_session() as session:
        assert set_rule_enabled(session, "default", "Missed", False) is True
    with database.session() as session:
        _, active = load_account_rules(session, "default")
    assert [rule.name for rule in active] == ["Thanks"]
    with database.write_session() as session:
        assert set_rule_enabled(session, "default", "Missed", True) is True
    after = rule_rows(database)
    strip = slice(0, -1)  # all but updated_at
    assert [row[strip] for row in after] == [row[strip] for row in before]


def test_removing_a_number_or_sender_an_enabled_rule_uses_is_refused(database: Database) -> None:
    with database.write_session() as session:
        add_number(session, "+48221234567", "default")
    seed(database)
    with database.write_session() as session:
        with pytest.raises(
            Refused, match=r"number \+48221234567 is used by enabled rules of account 'default': Missed"
        ):
            remove_number(session, "+48221234567", "default")
        with pytest.raises(
            Refused, match="sender 'ACME' is used by enabled rules of account 'default': Missed, Thanks"
        ):
            remove_sender(session, "ACME", "default")
        set_rule_enabled(session, "default", "Missed", False)
        assert remove_number(session, "0048 22 123 45 67", "default") == "+48221234567"
    with database.write_session() as session, pytest.raises(Refused, match="column sender"):
        delete_rule(session, "default", "Thanks")
        remove_sender(session, "ACME", "default")
        set_rule_enabled(session, "default", "Missed", True)  # its sender is gone now


def test_optouts_global_and_per_account(database: Database) -> None:
    with database.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL")
        assert add_optout(session, "600 100 200", None, "PL") == "+48600100200"
        assert add_optout(session, "+48600100300", "acme", "DE") == "+48600100300"
        with pytest.raises(AlreadyExists):
            add_optout(session, "+48600100200", None, "PL")
        # An account sees the global opt-outs and its own, not those of another account.
        assert list_optouts(session, "acme") == [("+48600100200", None), ("+48600100300", "acme")]
        assert list_optouts(session, "default") == [("+48600100200", None)]
        remove_optout(session, "+48600100200", None, "PL")
        assert list_optouts(session, "acme") == [("+48600100300", "acme")]


# --- the daemon's view: changes straight in SQL ------------------------------------------------


def example_insert() -> str:
    match = re.search(r"<!-- example-insert -->\s*```sql\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert match, "docs/schema.md lost its example INSERT"
    return match.group(1).strip().rstrip(";")


def test_rule_inserted_with_the_documented_sql_is_picked_up(database: Database) -> None:
    seed(database)
    clock = [0.0]
    cache = ConfigCache(database, check_interval_s=1.0, clock=lambda: clock[0])
    first = cache.snapshot()
    assert [active.rule.name for active in first.rules_for("default")] == ["Missed", "Thanks"]
    assert cache.refresh() is False  # nothing changed: one SELECT, no reload
    assert cache.snapshot() is first
    with database.session() as session:
        session.execute(text(example_insert()))
    assert [active.rule.name for active in cache.snapshot().rules_for("default")] == ["Missed", "Thanks"]
    clock[0] = 1.0  # the next check
    names = [active.rule.name for active in cache.snapshot().rules_for("default")]
    assert names == ["Missed", "Missed call (SQL)", "Thanks"]
    added = cache.snapshot().rules_for("default")[1].rule
    assert (added.when.status, added.then.delay_s, added.then.min_interval_s) == (["no_answer", "busy"], 60, 3600)
    with database.session() as session:
        session.execute(text("UPDATE rules SET enabled = false WHERE name = 'Missed call (SQL)'"))
    clock[0] = 2.0
    assert [active.rule.name for active in cache.snapshot().rules_for("default")] == ["Missed", "Thanks"]


def test_invalid_hand_edited_rule_is_skipped_with_one_error(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    seed(database)
    cache = ConfigCache(database, check_interval_s=0)
    with database.session() as session:
        session.execute(text("UPDATE rules SET statuses = 'answered,nope' WHERE name = 'Missed'"))
    caplog.set_level(logging.ERROR)
    snapshot = cache.snapshot()
    assert [active.rule.name for active in snapshot.rules_for("default")] == ["Thanks"]
    [error] = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert (error.account, error.rule, error.columns) == ("default", "Missed", ["statuses"])
    assert "'nope'" in error.getMessage()  # what is wrong with the column
    # Another change reloads, but the same problem is not logged again.
    with database.session() as session:
        session.execute(text("UPDATE accounts SET daily_cap = 10"))
    caplog.clear()
    assert cache.snapshot().accounts["default"].daily_cap == 10
    assert [record for record in caplog.records if record.levelno == logging.ERROR] == []


def test_schedule_json_and_delay_errors_name_their_columns(database: Database) -> None:
    seed(database)
    with database.session() as session:
        session.execute(text("UPDATE rules SET schedule = '{\"weekdays\": [mon]', delay_s = -5 WHERE name = 'Missed'"))
        session.execute(text("UPDATE rules SET delay_s = -5 WHERE name = 'Thanks'"))
    with database.session() as session:
        problems = {stored.name: stored.problems for stored in stored_rules(session, "default")}
    assert [problem.field for problem in problems["Missed"]] == ["schedule"]
    assert "not valid JSON" in problems["Missed"][0].message
    assert [problem.field for problem in problems["Thanks"]] == ["delay_s"]


def test_change_counter_counts_every_config_table(database: Database) -> None:
    seed(database)
    statements = [
        "UPDATE accounts SET daily_cap = 3",
        "INSERT INTO numbers (e164, account_id) VALUES ('+48221112233', 1)",
        "DELETE FROM senders WHERE sender = 'ACME'",
        "INSERT INTO optouts (e164, account_id) VALUES ('+48600999888', NULL)",
        "UPDATE rules SET text = 'x' WHERE name = 'Thanks'",
    ]
    for statement in statements:
        before = version(database)
        with database.session() as session:
            session.execute(text(statement))
        assert version(database) != before, statement
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(RuleRow)) == 2


def test_another_connection_sees_a_sql_change_within_the_check_interval(database: Database, database_url: str) -> None:
    seed(database)
    cache = ConfigCache(database)  # the default: a check every second, on the real clock
    assert len(cache.snapshot().rules_for("default")) == 2
    admin = open_database(database_url)  # another process, as far as the database is concerned
    try:
        with admin.session() as session:
            session.execute(text("UPDATE rules SET enabled = false WHERE name = 'Thanks'"))
        changed_at = time.monotonic()
        # The next check comes at most one interval after the change; the reload itself takes milliseconds,
        # the second of slack is for a busy machine.
        limit_s = DEFAULT_CHECK_INTERVAL_S + 1.0
        while [active.rule.name for active in cache.snapshot().rules_for("default")] != ["Missed"]:
            assert time.monotonic() - changed_at < limit_s, f"the change was not picked up within {limit_s:g} s"
            time.sleep(0.02)
    finally:
        admin.close()


def test_concurrent_first_use_creates_the_schema_once(database_url: str) -> None:
    opened: list[Database] = []
    failures: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(open_database(database_url))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with opened[0].session() as session:
        assert session.scalar(text("SELECT count(*) FROM accounts WHERE name = 'default'")) == 1
    for database in opened:
        database.close()


def test_rules_for_a_number_come_with_the_owning_account(database: Database) -> None:
    seed(database)
    with database.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL", allowed_countries=["PL", "DE"])
        add_number(session, "+48227654321", "acme")
    with database.session() as session:
        policy, rules = load_rules_for_number(session, "+48221234567")
        assert (policy.name, policy.country, [rule.name for rule in rules]) == ("default", "DE", ["Missed", "Thanks"])
        policy, rules = load_rules_for_number(session, "+48227654321")
        assert (policy.name, policy.allowed_countries, rules) == ("acme", frozenset({"PL", "DE"}), [])
