"""``pbx-sms db prune`` on SQLite and PostgreSQL: what goes, what stays, batches, and the safety floor."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import Cli, admin_cli
from outbox_world import sms
from paths import ROOT
from sqlalchemy import event, select, update
from systemd_units import parse_unit, single

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.clock import utc_now
from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import Database
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.intake.calls import mark_processed, record_call
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.database import open_database
from pbx_sms.storage.numbers import add_sender
from pbx_sms.storage.prune import MIN_AGE, PruneCounts, count_prunable, format_age, minimum_age, parse_age, prune
from pbx_sms.storage.rule_store import RuleSource, import_rules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=10)
CUTOFF = NOW - timedelta(days=90)
_numbers = itertools.count(1)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    yield db
    db.close()


def default_account_id(database: Database) -> int:
    with database.session() as session:
        return get_account(session, "default").id


def add_sms(database: Database, status: str, changed_at: datetime, count: int = 1) -> list[int]:
    account = default_account_id(database)
    items = [sms(account, to=f"+4860200{next(_numbers):04d}", due_at=changed_at) for _ in range(count)]
    ids = list(SqlOutbox(database.engine).enqueue(items, changed_at).queued)
    with database.engine.begin() as conn:
        conn.execute(
            update(outbox_table).where(outbox_table.c.id.in_(ids)).values(status=status, updated_at=changed_at)
        )
    return ids


def add_call(database: Database, call_id: str, received_at: datetime, processed_at: datetime | None) -> None:
    call = CompletedCall(call_id, "in", "+48221234567", "+48601234567", "no_answer", 0, received_at, received_at)
    assert record_call(database.engine, call, "pbx-1", "ami", received_at)
    if processed_at is not None:
        mark_processed(database.engine, "pbx-1", call_id, "default", processed_at)


def remaining_sms(database: Database) -> set[int]:
    with database.engine.connect() as conn:
        return set(conn.execute(select(outbox_table.c.id)).scalars())


def remaining_calls(database: Database) -> set[str]:
    with database.engine.connect() as conn:
        return set(conn.execute(select(calls_table.c.call_id)).scalars())


# --- ages ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("90d", timedelta(days=90)),
        ("12w", timedelta(weeks=12)),
        ("36h", timedelta(hours=36)),
        (" 5m ", timedelta(minutes=5)),
    ],
)
def test_parse_age(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["90", "90 days", "-3d", "1.5d", "d", "", "3y"])
def test_bad_ages_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected an age like 90d"):
        parse_age(text)


def test_format_age() -> None:
    assert [format_age(age) for age in (timedelta(days=30), timedelta(hours=36), timedelta(seconds=90))] == [
        "30d",
        "36h",
        "90s",
    ]


# --- what goes and what stays --------------------------------------------------------------------


def test_prune_deletes_only_finished_sms_and_processed_calls_older_than_the_cutoff(database: Database) -> None:
    gone = [add_sms(database, status, OLD, 3) for status in ("sent", "failed", "suppressed", "cancelled")]
    kept = [add_sms(database, status, OLD, 2) for status in ("queued", "sending")]
    kept += [add_sms(database, status, RECENT, 2) for status in ("sent", "failed", "suppressed", "cancelled")]
    add_call(database, "old-processed", OLD, OLD)
    add_call(database, "old-processed-2", OLD - timedelta(days=1), OLD)
    add_call(database, "old-but-processed-recently", OLD, RECENT)
    add_call(database, "old-unprocessed", OLD, None)
    add_call(database, "recent", RECENT, RECENT)

    assert count_prunable(database.engine, CUTOFF) == PruneCounts(calls=2, sms=12)
    counts = prune(database.engine, CUTOFF, batch_size=5, pause_s=0)
    assert (counts.calls, counts.sms) == (2, 12)
    assert remaining_sms(database) == {row_id for ids in kept for row_id in ids}
    assert not remaining_sms(database) & {row_id for ids in gone for row_id in ids}
    assert remaining_calls(database) == {"old-but-processed-recently", "old-unprocessed", "recent"}
    # Nothing left to do: a second run deletes nothing.
    again = prune(database.engine, CUTOFF, batch_size=5, pause_s=0)
    assert (again.calls, again.sms) == (0, 0)


def test_prune_works_in_short_transactions(database: Database) -> None:
    add_sms(database, "sent", OLD, 23)
    for index in range(7):
        add_call(database, f"c{index}", OLD, OLD)
    commits: list[int] = []
    listener = lambda _conn: commits.append(1)  # noqa: E731
    event.listen(database.engine, "commit", listener)
    try:
        counts = prune(database.engine, CUTOFF, batch_size=5, pause_s=0)
    finally:
        event.remove(database.engine, "commit", listener)
    assert (counts.calls, counts.sms) == (7, 23)
    # SMS: 5+5+5+5+3 (the short batch ends it); calls: 5+2.
    assert len(commits) == 5 + 2


def test_prune_rejects_a_zero_batch(database: Database) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        prune(database.engine, CUTOFF, batch_size=0)


# --- the floor -----------------------------------------------------------------------------------

RULES = """
account: default
rules:
  - name: Once a month
    enabled: false
    when: {direction: in, numbers: all, status: [no_answer]}
    then: {sender: ACME, to: [other_party], text: "x", min_interval_s: 2592000}
  - name: Hourly
    when: {direction: in, numbers: all, status: [busy]}
    then: {sender: ACME, to: [other_party], text: "y", min_interval_s: 3600}
"""


def test_minimum_age_is_two_days_or_the_longest_min_interval(database: Database) -> None:
    floor = minimum_age(database.engine)
    assert floor.age == MIN_AGE == timedelta(days=2)
    assert "daily caps" in floor.why
    with database.write_session() as session:
        add_sender(session, "ACME", "default")
        import_rules(session, [RuleSource("r.yaml", "default", parse_rule_text(RULES).rules)])
    floor = minimum_age(database.engine)
    # A disabled rule counts: enabling it again must find its history.
    assert floor.age == timedelta(days=30)
    assert "rule 'Once a month' has min_interval_s 2592000 (30d)" in floor.why
    # A queued SMS planned under a longer interval (the rule was changed since) counts too.
    [row_id] = add_sms(database, "queued", NOW)
    with database.engine.begin() as conn:
        conn.execute(update(outbox_table).where(outbox_table.c.id == row_id).values(min_interval_s=40 * 86400))
    assert minimum_age(database.engine).age == timedelta(days=40)


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str) -> Cli:
    return admin_cli(database_url)


def test_command_deletes_with_yes_and_prints_how_many(cli: Cli, database: Database) -> None:
    long_ago = utc_now() - timedelta(days=120)
    add_sms(database, "sent", long_ago, 4)
    kept = add_sms(database, "sent", utc_now() - timedelta(days=1), 1)
    add_call(database, "old", long_ago, long_ago)
    out = cli("db", "prune", "--older-than", "90d", "--yes").stdout
    assert out.startswith("deleted 1 call(s) and 4 finished SMS last changed before ")
    assert remaining_sms(database) == set(kept)
    assert "nothing to delete" in cli("db", "prune", "--older-than", "90d", "--yes").stdout


def test_command_asks_first_and_refuses_without_a_terminal(cli: Cli, database: Database) -> None:
    old = add_sms(database, "failed", utc_now() - timedelta(days=120), 2)
    out = cli("db", "prune", "--older-than", "90d", code=1).output
    assert "delete 0 call(s) and 2 finished SMS" in out and "add --yes" in out
    assert remaining_sms(database) == set(old)


def test_command_refuses_an_age_the_rules_still_need(cli: Cli, database: Database) -> None:
    out = cli("db", "prune", "--older-than", "1d", "--yes", code=1).output
    assert "--older-than 1d is shorter than 2d: the daily caps" in out
    with database.write_session() as session:
        add_sender(session, "ACME", "default")
        import_rules(session, [RuleSource("r.yaml", "default", parse_rule_text(RULES).rules)])
    out = cli("db", "prune", "--older-than", "7d", "--yes", code=1).output
    assert "--older-than 7d is shorter than 30d: rule 'Once a month' has min_interval_s 2592000" in out
    assert "Use --older-than 30d or more" in out
    cli("db", "prune", "--older-than", "30d", "--yes")
    out = cli("db", "prune", "--older-than", "90 days", code=1).output
    assert "--older-than: expected an age like 90d" in out


# --- the systemd units ---------------------------------------------------------------------------


def test_timer_and_service_run_the_command_daily() -> None:
    service = parse_unit((ROOT / "deploy" / "pbx-sms-prune.service").read_text())
    timer = parse_unit((ROOT / "deploy" / "pbx-sms-prune.timer").read_text())
    assert single(service["Service"], "Type") == "oneshot"
    assert single(service["Service"], "ExecStart") == "/opt/pbx-sms/bin/pbx-sms db prune --older-than 90d --yes"
    assert single(service["Service"], "User") == "pbx-sms"
    assert single(service["Service"], "EnvironmentFile") == "/etc/pbx-sms/pbx-sms.env"
    assert "Install" not in service  # started by the timer only
    assert single(timer["Timer"], "Unit") == "pbx-sms-prune.service"
    assert single(timer["Timer"], "Persistent") == "true"
    assert single(timer["Install"], "WantedBy") == "timers.target"
    # The command line the unit runs is one the CLI accepts.
    assert parse_age(single(service["Service"], "ExecStart").split("--older-than ")[1].split()[0]) >= MIN_AGE


def test_units_pass_systemd_analyze_verify_when_available(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # not installed here: the parse test above is the check
    cli_path = str(Path(sys.executable).parent / "pbx-sms")
    for name in ("pbx-sms-prune.service", "pbx-sms-prune.timer"):
        text = (ROOT / "deploy" / name).read_text().replace("/opt/pbx-sms/bin/pbx-sms", cli_path)
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / "pbx-sms-prune.timer"), str(tmp_path / "pbx-sms-prune.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
