"""Call intake on SQLite and PostgreSQL: one row per call, rules matched, SMS queued, pending calls (two views
of one call: test_call_views.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.db.engine import Database
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.intake.calls import count_calls, record_call, record_calls, unprocessed_calls
from pbx_sms.intake.service import MAX_PROCESSING_ATTEMPTS, CallIntake
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.accounts import add_account
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules

PBX = "pbx-1"

RULES = """
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer, busy]}
    then: {sender: ACME, to: [other_party, "+48600100100"], text: "Missed {number} at {time}", delay_s: 60}
  - name: Thanks
    when: {direction: any, numbers: ["+48221234567"], status: [answered], talk_s: {min: 5}}
    then: {sender: ACME, to: [other_party], text: "Thanks for {talk_min} min", delay_s: 0}
"""
END = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def make_call(call_id: str, status: str = "no_answer", talk_s: int = 0, other: str = "+48601234567") -> CompletedCall:
    return CompletedCall(call_id, "in", "+48221234567", other, status, talk_s, END - timedelta(seconds=30), END)  # type: ignore[arg-type]


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    with database.session() as session:
        add_sender(session, "ACME", "default")
        add_number(session, "+48221234567", "default")
        import_rules(session, [RuleSource("rules.yaml", "default", parse_rule_text(RULES).rules)])
    yield database
    database.close()


def make_intake(database: Database, wakes: list[int] | None = None) -> CallIntake:
    return CallIntake(
        database,
        SqlOutbox(database.engine),
        ConfigCache(database, check_interval_s=0),
        pbx=PBX,
        on_queued=(lambda: wakes.append(1)) if wakes is not None else None,
        clock=lambda: END,
    )


def outbox_rows(database: Database) -> list[dict[str, object]]:
    with database.engine.connect() as conn:
        rows = conn.execute(select(outbox_table).order_by(outbox_table.c.rule_name, outbox_table.c.recipient))
        return [dict(row) for row in rows.mappings()]


def test_missed_call_queues_one_sms_per_recipient(database: Database) -> None:
    wakes: list[int] = []
    outcome = make_intake(database, wakes).submit(make_call("1.1"), "ami")
    assert outcome is not None and outcome.account == "default"
    rows = outbox_rows(database)
    assert [(r["rule_name"], r["recipient"], r["status"]) for r in rows] == [
        ("Missed", "+48600100100", "queued"),
        ("Missed", "+48601234567", "queued"),
    ]
    assert rows[0]["text"] == "Missed +48221234567 at 11:00"  # Europe/Warsaw, UTC+1 in November
    assert rows[0]["due_at"] == END + timedelta(seconds=60)
    assert wakes == [1]


def test_second_report_of_a_call_adds_nothing(database: Database) -> None:
    intake = make_intake(database)
    assert intake.submit(make_call("2.1"), "agi") is not None
    assert intake.submit(make_call("2.1"), "ami") is None
    assert len(outbox_rows(database)) == 2
    assert intake.duplicate_reports == 1
    assert count_calls(database.engine) == 1


def test_answered_call_cancels_pending_missed_call_sms(database: Database) -> None:
    intake = make_intake(database)
    intake.submit(make_call("3.1"), "ami")
    outcome = intake.submit(make_call("3.2", status="answered", talk_s=65), "ami")
    assert outcome is not None and outcome.report.cancelled_by_reach == 2
    statuses = {(r["call_id"], r["recipient"]): (r["status"], r["reason"]) for r in outbox_rows(database)}
    assert statuses[("3.1", "+48601234567")] == ("cancelled", "reached_person")
    # The manager's "call them back" copy is moot too once the caller reached a person.
    assert statuses[("3.1", "+48600100100")] == ("cancelled", "reached_person")
    assert statuses[("3.2", "+48601234567")] == ("queued", None)


def test_anonymous_caller_is_logged_as_suppressed(database: Database) -> None:
    make_intake(database).submit(make_call("4.1", other="anonymous"), "ami")
    rows = {r["recipient"]: (r["status"], r["reason"]) for r in outbox_rows(database)}
    assert rows["anonymous"] == ("suppressed", "anonymous")
    assert rows["+48600100100"] == ("queued", None)


def test_agi_reported_calls_are_processed_later_exactly_once(database: Database) -> None:
    assert record_call(database.engine, make_call("5.1"), PBX, "agi", END)
    assert record_call(database.engine, make_call("5.1"), PBX, "ami", END) is False
    assert [call.call_id for call in unprocessed_calls(database.engine, PBX)] == ["5.1"]
    intake = make_intake(database)
    assert intake.process_pending() == 1
    assert intake.process_pending() == 0
    assert unprocessed_calls(database.engine, PBX) == []
    assert len(outbox_rows(database)) == 2


def test_call_round_trips_through_the_call_log(database: Database) -> None:
    call = make_call("6.1", status="answered", talk_s=7)
    record_call(database.engine, call, PBX, "agi", END)
    assert unprocessed_calls(database.engine, PBX) == [call]


def test_rule_disabled_in_sql_stops_matching_without_restart(database: Database) -> None:
    intake = make_intake(database)
    with database.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE rules SET enabled = false WHERE name = 'Missed'")
    outcome = intake.submit(make_call("7.1"), "ami")
    assert outcome is not None and outcome.planned == ()
    assert outbox_rows(database) == []


def test_a_call_that_cannot_be_processed_does_not_hold_up_the_others(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    intake = make_intake(database)
    with database.session() as session:
        add_account(session, "broken", timezone="Europe/Warsaw", country="PL")
        add_number(session, "+48221234599", "broken")
        add_sender(session, "ACME", "broken")
        import_rules(
            session, [RuleSource("b.yaml", "broken", parse_rule_text(RULES.replace("default", "broken")).rules[:1])]
        )
    with database.engine.begin() as conn:  # an admin's typo, straight in SQL
        conn.exec_driver_sql("UPDATE accounts SET timezone = 'Europe/Warsw' WHERE name = 'broken'")
    bad = CompletedCall("8.1", "in", "+48221234599", "+48601234567", "no_answer", 0, END, END)
    assert record_call(database.engine, bad, PBX, "agi", END)
    assert record_call(database.engine, make_call("8.2"), PBX, "agi", END)
    with caplog.at_level(logging.ERROR):
        for _ in range(6):
            intake.process_pending()
    assert [c.call_id for c in unprocessed_calls(database.engine, PBX)] == ["8.1"]
    assert {r["call_id"] for r in outbox_rows(database)} == {"8.2"}
    # Given up after five tries, not retried forever.
    tries = [
        record.getMessage() for record in caplog.records if "call 8.1 could not be processed" in record.getMessage()
    ]
    assert len(tries) == 5
    assert "call 8.1 could not be processed 5 times; given up until restart" in tries[-1]


def test_missed_call_processed_after_the_answered_callback_is_not_texted(database: Database) -> None:
    intake = make_intake(database)
    missed = make_call("9.1")
    answered = CompletedCall(
        "9.2", "in", "+48221234567", "+48601234567", "answered", 65, END, END + timedelta(minutes=5)
    )
    intake.submit(answered, "ami")
    intake.submit(missed, "agi")  # reported late (the hook, a retry)
    statuses = {(r["call_id"], r["recipient"]): (r["status"], r["reason"]) for r in outbox_rows(database)}
    assert statuses[("9.1", "+48601234567")] == ("suppressed", "reached_person")
    assert statuses[("9.1", "+48600100100")] == ("suppressed", "reached_person")


def test_a_long_non_e164_company_number_is_still_recorded(database: Database) -> None:
    call = CompletedCall("10.1", "in", "trunk-orange-main", "+48601234567", "no_answer", 0, END, END)
    assert make_intake(database).submit(call, "ami") is not None
    assert count_calls(database.engine) == 1


def test_a_database_outage_never_makes_the_intake_give_up_a_call(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = make_intake(database)
    assert record_call(database.engine, make_call("11.1"), PBX, "agi", END)

    def database_away(call: CompletedCall, **_options: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(intake, "process", database_away)
    for _ in range(MAX_PROCESSING_ATTEMPTS + 2):
        intake.process_pending()
    monkeypatch.undo()
    assert intake.process_pending() == 1
    assert {r["call_id"] for r in outbox_rows(database)} == {"11.1"}


def test_calls_of_one_batch_are_processed_in_the_order_they_were_completed(database: Database) -> None:
    # Same end second, ids in the opposite order: only the batch order tells which came first.
    completed = [make_call(call_id) for call_id in ("1795574891.96", "1795574891.92", "1795574891.94")]
    assert len(record_calls(database.engine, completed, PBX, "ami", END)) == 3
    assert [call.call_id for call in unprocessed_calls(database.engine, PBX)] == [
        "1795574891.96",
        "1795574891.92",
        "1795574891.94",
    ]


def test_the_processed_call_line_says_how_the_call_was_known(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    intake = make_intake(database)
    caplog.set_level(logging.INFO, logger="pbx_sms.intake.service")
    record_calls(database.engine, [replace(make_call("9.1"), evidence="gap")], PBX, "ami", END)
    intake.process_pending()
    [line] = [record for record in caplog.records if getattr(record, "call_id", None) == "9.1"]
    assert (line.pbx, line.evidence, line.status, line.account) == (PBX, "gap", "no_answer", "default")
    assert "evidence gap" in line.getMessage()
