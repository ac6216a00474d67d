"""The admin commands against values past what the database stores, hostile text in stored rows, and an
unreachable database, on SQLite and PostgreSQL: a clear one-line error, never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_helpers import Cli, admin_cli, admin_env
from outbox_world import sms, sql_world
from ports import free_port
from sqlalchemy import text
from typer.testing import CliRunner

from pbx_sms.cli.main import app
from pbx_sms.db.engine import make_engine
from pbx_sms.outbox.model import Failed

HAND_WRITTEN_RULE = (
    "INSERT INTO rules (account_id, name, direction, statuses, numbers, sender, recipients, text) "
    "VALUES ((SELECT id FROM accounts WHERE name = 'default'), :name, 'in', 'no_answer', 'all', 'ACME', "
    "'other_party', :text)"
)
RULE_FILE = """\
rules:
  - name: {name}
    when: {{direction: in, numbers: all, status: [no_answer]}}
    then: {{sender: ACME, to: [other_party], text: "{text}"}}
"""


@pytest.fixture
def cli(database_url: str) -> Cli:
    return admin_cli(database_url)


def sql(database_url: str, statement: str, **values: object) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), values)
    finally:
        engine.dispose()


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_a_country_that_does_not_exist_is_refused(cli: Cli) -> None:
    assert (
        "country 'XX': expected a two-letter ISO country code like PL"
        in cli("accounts", "add", "acme", "--country", "XX", code=1).output
    )
    cli("accounts", "set", "default", "--country", "XX", code=1)
    cli("accounts", "set", "default", "--allow-country", "PL", "--allow-country", "QQ", code=1)
    assert "acme" not in cli("accounts", "list").output


@pytest.mark.parametrize("cap", ["3000000000", "2147483648", "99999999999999999999"])
def test_a_daily_cap_past_an_integer_column_is_refused(cli: Cli, cap: str) -> None:
    result = cli("accounts", "set", "default", "--daily-cap", cap, code=1)
    assert result.output == f"error: daily cap {cap}: expected 0 to 2147483647 (or none)\n"
    cli("accounts", "add", "acme", "--daily-cap", cap, code=1)


def test_the_largest_daily_cap_is_stored(cli: Cli) -> None:
    cli("accounts", "set", "default", "--daily-cap", "2147483647")
    assert "2147483647" in cli("accounts", "show", "default").output


def test_an_account_name_longer_than_its_column_is_refused(cli: Cli) -> None:
    assert "at most 100 characters (this one has 10240)" in cli("accounts", "add", "x" * 10_240, code=1).output
    assert "does not exist" in cli("numbers", "list", "--account", "x" * 10_240, code=1).output


@pytest.mark.parametrize("name", ["nul\0inside", "esc\x1b[31m"])
def test_an_account_name_with_control_characters_is_refused_and_never_found(cli: Cli, name: str) -> None:
    assert "must not contain control characters" in cli("accounts", "add", name, code=1).output
    result = cli("rules", "list", "--account", name, code=1)
    assert "does not exist" in result.output and "\x1b" not in result.output and "\0" not in result.output


@pytest.mark.parametrize("sms_id", ["99999999999999999999999", "9223372036854775808"])
def test_an_id_past_64_bits_is_an_unknown_sms(cli: Cli, sms_id: str) -> None:
    for command in ("retry", "cancel"):
        assert cli("outbox", command, sms_id, code=1).output == f"error: no SMS with id {sms_id} in the outbox\n"


def test_a_limit_past_64_bits_is_no_limit(cli: Cli) -> None:
    assert cli("outbox", "list", "--limit", "99999999999999999999999").output == "(none)\n"
    assert cli("log", "--limit", "99999999999999999999999").output == "(none)\n"


@pytest.mark.parametrize("since", ["99999999999999d", "0001-01-01T00:00+14:00"])
def test_log_since_too_far_back_is_an_error(cli: Cli, since: str) -> None:
    assert "outside the times that can be compared" in cli("log", "--since", since, code=1).output


def test_a_nul_in_a_rule_file_is_refused_with_its_line(cli: Cli, tmp_path: Path) -> None:
    cli("senders", "add", "ACME")
    path = write(tmp_path, "nul.yaml", RULE_FILE.format(name="Missed", text="Call \\0 back"))
    result = cli("rules", "import", str(path), code=1)
    assert f"{path}:4: rules[0].then.text: must not contain a NUL character" in result.output
    assert "has no rules" in cli("rules", "list").output


def test_a_text_past_255_parts_is_refused_at_import(cli: Cli, tmp_path: Path) -> None:
    cli("senders", "add", "ACME")
    path = write(tmp_path, "long.yaml", RULE_FILE.format(name="Long", text="Ł" * 20_000))
    assert "299 parts (UCS-2); an SMS has at most 255 parts" in cli("rules", "import", str(path), code=1).output


def test_a_hand_written_rule_too_long_is_listed_invalid_not_dropped(cli: Cli, database_url: str) -> None:
    """Never silently: the rule that can no longer be sent says why, where admins look."""
    cli("senders", "add", "ACME")
    sql(database_url, HAND_WRITTEN_RULE, name="Long", text="Ł" * 20_000)
    output = cli("rules", "list").output
    assert "Long" in output and "INVALID" in output and "column text: the text takes 299 parts" in output


def test_more_than_6_parts_is_a_warning_in_validate_import_and_list(cli: Cli, tmp_path: Path) -> None:
    cli("senders", "add", "ACME")
    path = write(tmp_path, "long.yaml", RULE_FILE.format(name="Long", text="a" * 153 * 7 + " {other_party}"))
    warning = "the text takes up to 8 parts (GSM-7), more than 6: each part is billed as one SMS"
    assert f"{path}:4: rules[0].then.text: warning: {warning}" in cli("rules", "validate", str(path)).output
    assert warning in cli("rules", "import", str(path)).output
    assert f"warning: rule 'Long': {warning}" in cli("rules", "list").output
    assert cli("rules", "list", "--json").output.count(warning) == 1


def test_a_hand_written_rule_name_with_escapes_is_printed_as_text(cli: Cli, database_url: str) -> None:
    cli("senders", "add", "ACME")
    sql(database_url, HAND_WRITTEN_RULE, name="Evil\x1b]0;owned\x07\nforged", text="Hi")
    output = cli("rules", "list").output
    assert "\x1b" not in output and "\x07" not in output
    assert "Evil\\x1b]0;owned\\x07\\nforged" in output and "INVALID" in output


def test_sms_log_prints_a_hostile_error_text_as_text(database_url: str) -> None:
    with sql_world(database_url) as world:
        account = world.account()
        now = datetime.now(UTC)
        (sms_id,) = world.store.enqueue([sms(account, other_party="\x1b[2Jcaller\nforged", due_at=now)], now).queued
        world.store.claim_due("test", now, 1, 30)
        world.store.apply("test", [Failed(sms_id, "permanent: <html>\x1b[31m\x9b1mWAF\r\n</html>")], now)
    output = admin_cli(database_url)("log").output
    assert not any(char in output for char in "\x1b\x9b\r")
    assert "permanent: <html>\\x1b[31m\\x9b1mWAF\\r\\n</html>" in output
    as_json = admin_cli(database_url)("log", "--json").output
    assert "\x1b" not in as_json and json.loads(as_json)[0]["other_party"] == "\x1b[2Jcaller\nforged"


# --- an unreachable database -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [("status",), ("accounts", "list"), ("log",), ("outbox", "list"), ("db", "upgrade")]
)
def test_postgresql_unreachable_is_one_line_and_exit_1(command: tuple[str, ...]) -> None:
    port = free_port()
    env = admin_env(f"postgresql://pbx:secret@127.0.0.1:{port}/pbx")
    result = CliRunner().invoke(app, list(command), env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: cannot ") and f"127.0.0.1:{port}" in lines[0]
    assert "secret" not in result.output and "Traceback" not in result.output


def test_sqlite_in_a_missing_directory_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["status"], env=admin_env(f"sqlite:///{tmp_path}/missing/pbx-sms.db"))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.output.startswith("error: cannot open the database") and len(result.output.splitlines()) == 1
