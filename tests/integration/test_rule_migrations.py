"""Migrations 0005 (a deleted rule cancels its queued SMS, whoever deletes it) and 0007 (rules.evidence)."""

from __future__ import annotations

from sqlalchemy import inspect, text

from integration.test_quiet_hours_storage import columns, migrate
from pbx_sms.db.engine import make_engine
from pbx_sms.storage.database import open_database

RULE = (
    "INSERT INTO rules (account_id, name, direction, statuses, numbers, sender, recipients, text) "
    "VALUES ((SELECT id FROM accounts WHERE name = 'default'), :name, 'in', 'no_answer', 'all', 'ACME', "
    "'other_party', 'Sorry') RETURNING id"
)
SMS = (
    "INSERT INTO outbox (idempotency_key, account_id, rule_id, rule_name, call_id, other_party, call_ended_at, "
    "recipient, sender, text, encoding, parts, to_other_party, min_interval_s, cancel_on_reach, status, "
    "scheduled_at, due_at, attempts, created_at, updated_at) VALUES (:key, 1, :rule, 'r', :call, '+48601000000', "
    "CURRENT_TIMESTAMP, '+48601000000', 'ACME', 'Sorry', 'gsm7', 1, true, 0, false, 'queued', "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)
# From migration 0006 on, an SMS names its call's PBX.
SMS_OF_PBX = SMS.replace("created_at, updated_at)", "created_at, updated_at, pbx)").replace(
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)", "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :pbx)"
)


def queued_sms_after_deleting_a_rule(database_url: str, name: str) -> list[tuple[str, str | None]]:
    with_pbx = "pbx" in columns(database_url, "outbox")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            rule_id = conn.execute(text(RULE), {"name": name}).scalar_one()
            sms = {"key": f"key-{name}", "rule": rule_id, "call": f"call-{name}", "pbx": "pbx-1"}
            conn.execute(text(SMS_OF_PBX if with_pbx else SMS), sms)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM rules WHERE id = :id"), {"id": rule_id})
            # By call: SQLite may give the next rule the deleted rule's id.
            rows = conn.execute(
                text("SELECT status, reason FROM outbox WHERE call_id = :call"), {"call": f"call-{name}"}
            )
            return [(status, reason) for status, reason in rows]
    finally:
        engine.dispose()


def test_the_trigger_cancels_and_the_downgrade_removes_it(database_url: str) -> None:
    open_database(database_url).close()  # head
    assert queued_sms_after_deleting_a_rule(database_url, "at head") == [("cancelled", "rule_deleted")]

    migrate(database_url, "0004", down=True)
    assert queued_sms_after_deleting_a_rule(database_url, "at 0004") == [("queued", None)]

    open_database(database_url).close()  # upgrades again, as every command does
    assert queued_sms_after_deleting_a_rule(database_url, "upgraded") == [("cancelled", "rule_deleted")]


def test_migration_0007_gives_existing_rules_every_call_and_is_reversible(database_url: str) -> None:
    open_database(database_url).close()
    migrate(database_url, "0006", down=True)
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(RULE), {"name": "before 0007"})
        assert "evidence" not in {column["name"] for column in inspect(engine).get_columns("rules")}
    finally:
        engine.dispose()
    open_database(database_url).close()  # upgrades again
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            evidence = conn.execute(text("SELECT evidence FROM rules WHERE name = 'before 0007'")).scalar_one()
        assert evidence is None  # NULL: the rule acts on every call, as it did
    finally:
        engine.dispose()
