"""Backtest over a seeded call log (SQLite and PostgreSQL): the counts worked out by hand in backtest_seed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from backtest_seed import DAYS, EXPECTED, RULE_DOCUMENT, A, F, seed_calls

from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_document
from pbx_sms.db.engine import Database
from pbx_sms.manage.backtest import BacktestInvalid, backtest, saved_rule
from pbx_sms.storage.accounts import add_account
from pbx_sms.storage.database import open_database
from pbx_sms.storage.errors import NotFound
from pbx_sms.storage.numbers import add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    with database.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL")
        add_account(session, "globex", timezone="Europe/Warsaw", country="PL")
    seed_calls(database, NOW)
    yield database
    database.close()


def run(database: Database, document: dict[str, Any] = RULE_DOCUMENT, days: int = DAYS) -> dict[str, Any]:
    result = backtest(database, "acme", check_rule_document(document), days=days, now=NOW, internal_max_digits=5)
    return result.as_json()


def test_counts_match_the_hand_worked_answer(database: Database) -> None:
    result = run(database)
    assert {key: result[key] for key in EXPECTED} == EXPECTED
    assert result["rule"] == "missed" and result["account"] == "acme"
    assert result["until"] == "2026-11-25T13:00:00+01:00"


def test_examples_say_what_each_sms_became_in_call_order(database: Database) -> None:
    examples = run(database)["examples"]
    assert len(examples) == 13  # one per SMS planned: fewer than the 20 shown at most
    assert [example["reason"] for example in examples[:4]] == [None, "min_interval", "min_interval", "opted_out"]
    first = examples[0]
    assert first["other_party"] == A and first["to"] == A
    assert first["text"] == "Sorry we missed your call at 10:00"
    assert first["call_ended_at"] == "2026-11-23T10:00:00+01:00"
    assert first["sent_at"] == "2026-11-23T10:05:00+01:00" and first["delayed"] is False
    assert examples[1]["text"] is None and examples[1]["sent_at"] is None
    quiet = next(example for example in examples if example["other_party"] == F)
    assert (quiet["sent_at"], quiet["delayed"]) == ("2026-11-24T07:00:00+01:00", True)


def test_a_shorter_window_leaves_older_calls_out(database: Database) -> None:
    # One day back from 12:00 UTC on the 25th: day 2 (the 24th) ends its calls by 12:40 local, 11:40 UTC.
    result = run(database, days=1)
    assert (result["calls"], result["sent"], result["examples"]) == (0, 0, [])


def test_without_min_interval_the_daily_cap_stops_a_instead(database: Database) -> None:
    document = {**RULE_DOCUMENT, "then": {**RULE_DOCUMENT["then"], "min_interval_s": 0}}
    changed = run(database, document)
    assert "min_interval" not in changed["suppressed"]
    # A's 4 missed calls on day 1: 3 SMS reach the cap, the 4th (11:05) is capped; day 2 as before.
    assert (changed["sent"], changed["distinct_numbers"]) == (6, 4)
    assert changed["suppressed"]["daily_cap_reached"] == 2


def test_a_disabled_saved_rule_is_backtested_as_if_enabled(database: Database) -> None:
    with database.write_session() as session:
        add_sender(session, "ACME", "acme")
        import_rules(session, [RuleSource("test", "acme", [check_rule_document({**RULE_DOCUMENT, "enabled": False})])])
    rule = saved_rule(database, "acme", "missed")
    assert rule.enabled is False
    result = backtest(database, "acme", rule, days=DAYS, now=NOW, internal_max_digits=5).as_json()
    assert {key: result[key] for key in EXPECTED} == EXPECTED


def test_an_unknown_saved_rule_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound, match="no rule named 'nope'"):
        saved_rule(database, "acme", "nope")


@pytest.mark.parametrize("days", [0, 91, -1])
def test_days_are_bounded(database: Database, days: int) -> None:
    with pytest.raises(BacktestInvalid) as raised:
        run(database, days=days)
    assert raised.value.field == "days"
    assert "1 to 90" in raised.value.message


def test_a_document_is_checked_as_a_rule_file_with_field_paths() -> None:
    bad = {**RULE_DOCUMENT, "when": {**RULE_DOCUMENT["when"], "status": ["missed"]}, "extra": 1}
    with pytest.raises(RuleFileInvalid) as raised:
        check_rule_document(bad)
    fields = {error.field: error.message for error in raised.value.errors}
    assert set(fields) == {"when.status[0]", "extra"}
    assert "unknown key" in fields["extra"]
