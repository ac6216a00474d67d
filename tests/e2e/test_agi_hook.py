"""The AGI hangup hook run as Asterisk runs it: a subprocess speaking AGI on stdin/stdout.

The test plays Asterisk (tests/fake_asterisk.py): it sends the agi_* environment and a blank line,
answers every command with "200 result=1", and checks what landed in the call log (SQLite and
PostgreSQL), that the hook exits 0 whatever happens, and how long it takes.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_asterisk import END, SCRIPT, START, VENV_PYTHON, AgiRun, agi_values, run_hook
from sqlalchemy import select

from pbx_sms.agi.hook import DEADLINE_S
from pbx_sms.core.call import CompletedCall
from pbx_sms.db.engine import make_engine
from pbx_sms.intake.calls import calls, count_calls, record_call
from pbx_sms.storage.database import open_database

# The hook normally needs well under a second; the bound leaves room for a loaded test machine.
QUICK_S = DEADLINE_S


@pytest.fixture
def migrated_url(database_url: str) -> Iterator[str]:
    open_database(database_url).close()
    yield database_url


def call_rows(url: str) -> list[dict[str, object]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(select(calls)).mappings()]
    finally:
        engine.dispose()


def test_answered_call_lands_in_the_call_log(migrated_url: str) -> None:
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url, "PBX_SMS_COUNTRY": "PL"}, agi_values())
    assert run.returncode == 0, run.stderr
    [row] = call_rows(migrated_url)
    assert row["call_id"] == "1700000000.42"
    assert (row["direction"], row["number"], row["other_party"]) == ("in", "+48221234567", "+48602345678")
    assert (row["status"], row["talk_s"], row["source"]) == ("answered", 61, "agi")
    assert row["started_at"] == datetime.fromtimestamp(START, UTC)
    assert row["ended_at"] == datetime.fromtimestamp(END, UTC)
    assert row["processed_at"] is None  # the daemon matches rules and queues SMS, not the hook
    # The outcome reaches the Asterisk log as one VERBOSE command.
    [command] = run.commands
    assert command.startswith('VERBOSE "pbx-sms: call 1700000000.42 recorded: in +48221234567 +48602345678')
    assert command.endswith(" 3")
    assert "recorded" in run.stderr
    assert run.wall_s < QUICK_S


def test_queue_call_without_dial_status_is_recorded_as_no_answer(migrated_url: str) -> None:
    args = agi_values(dial_status="", answered_time="", queue_status="TIMEOUT", other_party="anonymous")
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, args)
    assert run.returncode == 0, run.stderr
    [row] = call_rows(migrated_url)
    assert (row["status"], row["talk_s"], row["other_party"]) == ("no_answer", 0, "anonymous")


def test_a_spawned_hook_report_after_amis_view_changes_nothing(migrated_url: str) -> None:
    """Its database role may add calls, not change them (deploy/pbx-sms-agi-role.sql): AMI's row stays as it is."""
    engine = make_engine(migrated_url)
    try:
        ami_call = CompletedCall(
            call_id="1700000000.42",
            direction="in",
            number="+48221234567",
            other_party="+48602345678",
            status="no_answer",
            talk_s=0,
            started_at=datetime.fromtimestamp(START, UTC),
            ended_at=datetime.fromtimestamp(END, UTC),
        )
        assert record_call(engine, ami_call, socket.gethostname(), "ami", datetime.now(UTC))
    finally:
        engine.dispose()
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, agi_values())
    assert run.returncode == 0, run.stderr
    [row] = call_rows(migrated_url)
    assert (row["source"], row["status"], row["talk_s"]) == ("ami", "no_answer", 0)
    assert (row["other_view"], row["views_disagree"]) == (None, False)
    assert "already recorded (AMI reported it first; its view kept)" in run.commands[0]


@pytest.mark.parametrize(
    ("version", "seen"), [("22.9.0", ("answered", 37, "hook")), ("22.8.2", ("no_answer", 0, "hint"))]
)
def test_the_hook_reads_queues_answeredtime_only_on_asterisk_versions_that_set_it(
    migrated_url: str, version: str, seen: tuple[str, int, str]
) -> None:
    args = agi_values(dial_status="", answered_time="37")
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, args, agi_version=version)
    assert run.returncode == 0, run.stderr
    [row] = call_rows(migrated_url)
    assert (row["status"], row["talk_s"], row["evidence"]) == seen


def test_same_call_reported_twice_by_the_hook_is_one_row(migrated_url: str) -> None:
    for _ in range(2):
        assert run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, agi_values()).returncode == 0
    engine = make_engine(migrated_url)
    try:
        assert count_calls(engine) == 1
    finally:
        engine.dispose()


def test_caller_id_with_commas_stays_one_value(migrated_url: str) -> None:
    args = [*agi_values()[:-1], "60234", "5678"]  # what Asterisk makes of "60234,5678"
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, args)
    assert run.returncode == 0, run.stderr
    [row] = call_rows(migrated_url)
    assert row["other_party"] == "60234,5678"


def test_control_characters_in_the_caller_id_reach_the_asterisk_log_escaped(migrated_url: str) -> None:
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, agi_values(other_party="Evil\x1b[2J\x07"))
    assert run.returncode == 0, run.stderr
    [command] = run.commands
    assert "\x1b" not in command and "\x07" not in command
    assert "Evil\\\\x1b[2J\\\\x07" in command  # \x1b as text, its backslash escaped for parse_args


def test_an_argument_with_a_line_break_is_refused_not_read_as_another_argument(migrated_url: str) -> None:
    # ${PBXSMS_DID} = "+48221234567\nagi_arg_2: out" would otherwise turn the inbound call outbound.
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, agi_values(did="+48221234567\nagi_arg_2: out"))
    assert_gave_up_quietly(run, "agi_arg_2 given twice (an argument containing a line break?)")
    assert call_rows(migrated_url) == []


def test_settings_from_the_config_file_asterisk_points_to(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    open_database(url).close()
    config = tmp_path / "agi.toml"
    config.write_text(f'database_url = "{url}"\ncountry = "DE"\n')
    args = agi_values(did="030123456", other_party="01701234567")
    run = run_hook({"PBX_SMS_CONFIG": str(config)}, args)
    assert run.returncode == 0, run.stderr
    [row] = call_rows(url)
    assert (row["number"], row["other_party"]) == ("+4930123456", "+491701234567")


# --- nothing must ever fail the call ---------------------------------------------------------------


def assert_gave_up_quietly(run: AgiRun, expected_log: str, within_s: float = QUICK_S) -> None:
    assert run.returncode == 0
    assert expected_log in run.stderr, run.stderr
    assert run.wall_s < within_s
    [command] = run.commands
    assert command.startswith('VERBOSE "pbx-sms: ') and command.endswith(" 1")


def test_postgresql_down_exits_0_with_a_log_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    url = f"postgresql://postgres@127.0.0.1:{free_port}/pbx_sms"
    run = run_hook({"PBX_SMS_DATABASE_URL": url}, agi_values())
    assert_gave_up_quietly(run, "call 1700000000.42 not recorded: database postgresql+psycopg://postgres@127.0.0.1")


def test_unresponsive_database_server_times_out_within_the_deadline() -> None:
    # Accepts TCP connections (the kernel completes the handshake) but never answers: a hung server.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        run = run_hook({"PBX_SMS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/pbx_sms"}, agi_values())
    assert_gave_up_quietly(run, "unavailable", within_s=DEADLINE_S + 1)


def test_schema_missing_exits_0_and_says_to_upgrade(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        sqlite3.connect(database_url.removeprefix("sqlite:///")).close()  # an empty database file
    # PostgreSQL: the fixture's schema is empty, never migrated.
    run = run_hook({"PBX_SMS_DATABASE_URL": database_url}, agi_values())
    assert_gave_up_quietly(run, "has no pbx-sms schema (run `pbx-sms db upgrade`")


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "never-created.db"
    run = run_hook({"PBX_SMS_DATABASE_URL": f"sqlite:///{path}"}, agi_values())
    assert_gave_up_quietly(run, "no SQLite database at")
    assert not path.exists()


def test_outdated_dialplan_line_is_reported_not_guessed(migrated_url: str) -> None:
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, ["1700000000.42", "in", str(START)])
    assert_gave_up_quietly(run, "expected 12 AGI arguments")
    assert call_rows(migrated_url) == []


def test_untagged_channel_is_reported(migrated_url: str) -> None:
    run = run_hook({"PBX_SMS_DATABASE_URL": migrated_url}, agi_values(direction=""))
    assert_gave_up_quietly(run, "PBXSMS_DIRECTION is ''")


def test_invalid_settings_exit_0_naming_the_setting() -> None:
    run = run_hook({"PBX_SMS_DATABASE_URL": "sqlite:///x.db", "PBX_SMS_COUNTRY": "Poland"}, agi_values())
    assert_gave_up_quietly(run, "environment variable PBX_SMS_COUNTRY")


def test_secret_in_the_database_url_never_reaches_the_logs() -> None:
    url = "postgresql://pbx_sms_agi:s3cr3t-pw@127.0.0.1:1/pbx_sms"
    run = run_hook({"PBX_SMS_DATABASE_URL": url}, agi_values())
    assert_gave_up_quietly(run, "unavailable")
    assert "s3cr3t-pw" not in run.stderr
    assert "s3cr3t-pw" not in run.commands[0]


def test_without_pbx_sms_installed_the_script_still_exits_0(tmp_path: Path) -> None:
    # A python without pbx-sms (the system one, isolated from this checkout): the shebang was wrong.
    system_python = Path("/usr/bin/python3")
    assert system_python.exists()
    run = run_hook({"PYTHONNOUSERSITE": "1"}, agi_values(), python=system_python, cwd=tmp_path)
    assert run.returncode == 0
    assert "cannot load pbx-sms" in run.stderr
    assert run.commands == []


def test_script_is_executable_and_its_shebang_names_the_venv_python() -> None:
    assert os.access(SCRIPT, os.X_OK)
    shebang = SCRIPT.read_text().splitlines()[0]
    assert shebang == "#!/opt/pbx-sms/bin/python3"


def test_hard_deadline_ends_the_hook_with_exit_0_whatever_it_waits_on() -> None:
    # The deadline shortened below the database connect timeout, so the connect is still waiting.
    code = "import sys, pbx_sms.agi.hook as hook; hook.DEADLINE_S = 0.5; sys.exit(hook.main())"
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        env_lines = "".join(f"agi_arg_{index}: {value}\n" for index, value in enumerate(agi_values(), start=1))
        started = time.monotonic()
        result = subprocess.run(
            [str(VENV_PYTHON), "-c", code],
            input=env_lines + "\n",
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", ""), "PBX_SMS_DATABASE_URL": f"postgresql://u@127.0.0.1:{port}/x"},
            timeout=30,
        )
        wall_s = time.monotonic() - started
    assert result.returncode == 0
    assert "gave up after" in result.stderr and "call not recorded" in result.stderr
    assert result.stdout == ""  # killed before it could tell Asterisk anything: nothing half-written
    assert "unavailable" not in result.stderr  # the deadline ended it, not the 2 s connect timeout
    assert wall_s < DEADLINE_S
