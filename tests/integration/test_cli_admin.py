"""Every admin command through the real CLI, against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import Cli, admin_cli
from paths import ROOT
from typer.testing import CliRunner, Result

from pbx_sms.cli.main import app

EXAMPLES = ROOT / "rules"


@pytest.fixture
def cli(database_url: str) -> Cli:
    return admin_cli(database_url)


def as_json(result: Result) -> object:
    return json.loads(result.stdout)


@pytest.fixture
def examples(tmp_path: Path) -> list[Path]:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) >= 3
    return [Path(shutil.copy(path, tmp_path / path.name)) for path in files]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- accounts, numbers, senders, opt-outs --------------------------------------------------------


def test_new_accounts_get_the_default_daily_cap_and_no_cap_only_when_asked(cli: Cli) -> None:
    caps = {account["name"]: account["daily_cap"] for account in as_json(cli("accounts", "list", "--json"))}
    assert caps == {"default": 200}  # before: None (no cap) on a fresh install
    cli("accounts", "add", "capped")
    cli("accounts", "add", "uncapped", "--no-daily-cap")
    cli("accounts", "add", "small", "--daily-cap", "5")
    assert "contradict" in cli("accounts", "add", "both", "--daily-cap", "5", "--no-daily-cap", code=2).output
    # An existing account keeps what it has when the database is opened again.
    cli("accounts", "set", "default", "--no-daily-cap")
    caps = {account["name"]: account["daily_cap"] for account in as_json(cli("accounts", "list", "--json"))}
    assert caps == {"default": None, "capped": 200, "uncapped": None, "small": 5}


def test_accounts_lifecycle(cli: Cli) -> None:
    assert [account["name"] for account in as_json(cli("accounts", "list", "--json"))] == ["default"]
    cli("accounts", "add", "acme", "--timezone", "Europe/Berlin", "--country", "de", "--allow-country", "DE")
    cli(
        "accounts",
        "set",
        "acme",
        "--allow-country",
        "de",
        "--allow-country",
        "AT",
        "--sms-disabled",
        "--daily-cap",
        "50",
    )
    shown = as_json(cli("accounts", "show", "acme", "--json"))
    assert {key: shown[key] for key in ("timezone", "country", "allowed_countries", "sms_enabled", "daily_cap")} == {
        "timezone": "Europe/Berlin",
        "country": "DE",
        "allowed_countries": ["AT", "DE"],
        "sms_enabled": False,
        "daily_cap": 50,
    }
    cli("accounts", "set", "acme", "--no-daily-cap", "--sms-enabled")
    table = cli("accounts", "list").stdout
    assert "acme" in table and "Europe/Berlin" in table and "none" in table
    assert "SMS service:       on" in cli("accounts", "show", "acme").stdout

    assert "already exists" in cli("accounts", "add", "acme", code=1).output
    assert "time zone 'Mars/Base'" in cli("accounts", "set", "acme", "--timezone", "Mars/Base", code=1).output
    assert "nothing to change" in cli("accounts", "set", "acme", code=2).output
    assert "'default' cannot be removed" in cli("accounts", "remove", "default", "--yes", code=1).output
    assert "add --yes" in cli("accounts", "remove", "acme", code=1).output  # no terminal to ask on
    assert "acme" in cli("accounts", "list").stdout
    cli("accounts", "remove", "acme", "--yes")
    assert "does not exist" in cli("accounts", "show", "acme", code=1).output


def test_numbers_are_normalised_with_the_account_country(cli: Cli) -> None:
    cli("accounts", "add", "berlin", "--country", "DE")
    assert "+49301234567" in cli("numbers", "add", "030 1234567", "--account", "berlin").stdout
    assert "+48221234567" in cli("numbers", "add", "22 123 45 67").stdout
    assert as_json(cli("numbers", "list", "--json")) == [
        {"number": "+49301234567", "account": "berlin"},
        {"number": "+48221234567", "account": "default"},
    ]
    assert as_json(cli("numbers", "list", "--account", "berlin", "--json")) == [
        {"number": "+49301234567", "account": "berlin"}
    ]
    assert "already belongs to account 'berlin'" in cli("numbers", "add", "+49301234567", code=1).output
    assert "not a valid phone number" in cli("numbers", "add", "12ab", code=1).output
    assert "not a number of account 'default'" in cli("numbers", "remove", "+49301234567", code=1).output
    cli("numbers", "remove", "0301234567", "--account", "berlin")
    assert "berlin" not in cli("numbers", "list").stdout


def test_senders(cli: Cli) -> None:
    cli("senders", "add", "ACME")
    cli("senders", "add", "48600100200")
    assert "sender ID 'ACME CORPORATION'" in cli("senders", "add", "ACME CORPORATION", code=1).output
    assert "already belongs" in cli("senders", "add", "ACME", code=1).output
    assert as_json(cli("senders", "list", "--json")) == [
        {"sender": "48600100200", "account": "default"},
        {"sender": "ACME", "account": "default"},
    ]
    cli("senders", "remove", "48600100200")
    assert "not a sender of account" in cli("senders", "remove", "48600100200", code=1).output
    assert "does not exist" in cli("senders", "list", "--account", "nobody", code=1).output


def test_optouts_global_and_per_account(cli: Cli) -> None:
    cli("accounts", "add", "acme")
    cli("optout", "add", "600 100 200")
    cli("optout", "add", "+48600100300", "--account", "acme")
    assert as_json(cli("optout", "list", "--json")) == [
        {"number": "+48600100200", "account": None},
        {"number": "+48600100300", "account": "acme"},
    ]
    assert as_json(cli("optout", "list", "--account", "default", "--json")) == [
        {"number": "+48600100200", "account": None}
    ]
    assert "(global)" in cli("optout", "list").stdout
    assert "not opted out" in cli("optout", "remove", "+48600100300", code=1).output  # it is acme's, not global
    cli("optout", "remove", "+48600100300", "--account", "acme")
    cli("optout", "remove", "600100200")
    assert cli("optout", "list").stdout.strip() == "(none)"


def test_db_upgrade_is_idempotent(cli: Cli) -> None:
    first = cli("db", "upgrade").stdout
    assert "up to date" in first or "upgraded" in first
    assert "up to date" in cli("db", "upgrade").stdout


def test_bad_database_url_is_a_user_error(cli: Cli) -> None:
    result = CliRunner().invoke(app, ["accounts", "list"], env={"PBX_SMS_DATABASE_URL": "mysql://u:secret@h/db"})
    assert result.exit_code == 1
    assert "unsupported database 'mysql'" in result.output and "secret" not in result.output


# --- rules ---------------------------------------------------------------------------------------


def test_example_rules_round_trip(cli: Cli, examples: list[Path], tmp_path: Path) -> None:
    cli("senders", "add", "ACME")
    imported = cli("rules", "import", *map(str, examples)).stdout
    assert "0 updated, 0 unchanged, 0 deleted" in imported
    listed = as_json(cli("rules", "list", "--json"))
    assert {"name", "enabled", "when", "then"} <= set(listed[0])
    assert all(rule["valid"] for rule in listed) and len(listed) >= 3

    first = tmp_path / "export.yaml"
    cli("rules", "export", "-o", str(first))
    again = cli("rules", "import", "--replace", str(first)).stdout
    assert f"0 added, 0 updated, {len(listed)} unchanged, 0 deleted" in again
    assert cli("rules", "export").stdout == first.read_text(encoding="utf-8")
    assert as_json(cli("rules", "list", "--json")) == listed  # timestamps too: nothing was rewritten


def test_rules_list_show_enable_disable_delete(cli: Cli, examples: list[Path]) -> None:
    cli("senders", "add", "ACME")
    cli("rules", "import", *map(str, examples))
    name = next(rule["name"] for rule in as_json(cli("rules", "list", "--json")) if rule["enabled"])
    table = cli("rules", "list").stdout
    assert "GSM-7" in table and "UCS-2" in table and "ENABLED" in table

    before = as_json(cli("rules", "show", name, "--json"))
    cli("rules", "disable", name)
    assert as_json(cli("rules", "show", name, "--json"))["enabled"] is False
    assert "already disabled" in cli("rules", "disable", name).stdout
    cli("rules", "enable", name)
    after = as_json(cli("rules", "show", name, "--json"))
    assert {key: value for key, value in after.items() if key != "updated_at"} == {
        key: value for key, value in before.items() if key != "updated_at"
    }
    shown = cli("rules", "show", name).stdout
    assert f"- name: {name}" in shown and "then:" in shown

    assert "add --yes" in cli("rules", "delete", name, code=1).output
    assert name in [rule["name"] for rule in as_json(cli("rules", "list", "--json"))]
    cli("rules", "delete", name, "--yes")
    assert name not in [rule["name"] for rule in as_json(cli("rules", "list", "--json"))]
    assert "has no rule named" in cli("rules", "show", name, code=1).output
    assert "has no rule named" in cli("rules", "delete", name, "--yes", code=1).output


def test_import_rejected_whole_with_every_error_and_nothing_changes(cli: Cli, tmp_path: Path) -> None:
    cli("senders", "add", "ACME")
    cli("accounts", "add", "other")
    cli("numbers", "add", "+48227654321", "--account", "other")
    good = write(
        tmp_path / "good.yaml",
        """rules:
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered]}
    then: {sender: ACME, to: [other_party], text: "Thank you"}
""",
    )
    cli("rules", "import", str(good))
    before = cli("rules", "list", "--json").stdout
    bad = write(
        tmp_path / "bad.yaml",
        """rules:
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered]}
    then: {sender: ACME, to: [other_party], text: "Changed"}
  - name: Foreign
    when: {direction: in, numbers: ["+48227654321"], status: [busy]}
    then: {sender: ACME, to: [other_party], text: "x"}
  - name: Unknown sender
    when: {direction: out, numbers: all, status: [busy]}
    then: {sender: NOBODY, to: [other_party], text: "x"}
""",
    )
    duplicate = write(tmp_path / "dup.yaml", good.read_text(encoding="utf-8"))
    output = cli("rules", "import", str(bad), str(duplicate), code=1).output
    assert "database is unchanged" in output
    assert "Foreign" in output and "belongs to account 'other'" in output
    assert "Unknown sender" in output and "'NOBODY' is not a sender" in output
    assert "dup.yaml: rules[0] ('Thanks'): name: duplicate rule name" in output
    assert cli("rules", "list", "--json").stdout == before

    invalid = write(tmp_path / "invalid.yaml", "rules:\n  - name: X\n    when: {direction: sideways}\n")
    output = cli("rules", "import", str(good), str(invalid), code=1).output
    assert f"{invalid}:3: rules[0].when.direction" in output and "rules[0].then" in output
    assert cli("rules", "list", "--json").stdout == before


def test_replace_and_account_key_of_the_file_wins(cli: Cli, tmp_path: Path) -> None:
    cli("accounts", "add", "acme")
    cli("senders", "add", "ACME", "--account", "acme")
    rule = """  - name: {name}
    when: {{direction: any, numbers: all, status: [busy]}}
    then: {{sender: ACME, to: [other_party], text: "{name}"}}
"""
    two = write(tmp_path / "two.yaml", "rules:\n" + rule.format(name="A") + rule.format(name="B"))
    cli("rules", "import", str(two), "--account", "acme")
    assert [r["name"] for r in as_json(cli("rules", "list", "--account", "acme", "--json"))] == ["A", "B"]
    assert as_json(cli("rules", "list", "--json")) == []

    named = write(tmp_path / "named.yaml", "account: acme\nrules:\n" + rule.format(name="C"))
    result = cli("rules", "import", "--replace", str(named), "--account", "default")
    assert "deleted: acme/A" in result.stdout and "deleted: acme/B" in result.stdout
    assert [r["name"] for r in as_json(cli("rules", "list", "--account", "acme", "--json"))] == ["C"]


def test_refusals_name_the_rules(cli: Cli, tmp_path: Path) -> None:
    cli("senders", "add", "ACME")
    cli("numbers", "add", "+48221234567")
    rules = write(
        tmp_path / "r.yaml",
        """rules:
  - name: Uses the number
    when: {direction: in, numbers: ["+48221234567"], status: [busy]}
    then: {sender: ACME, to: [other_party], text: "x"}
""",
    )
    cli("rules", "import", str(rules))
    assert (
        "enabled rules of account 'default': Uses the number" in cli("numbers", "remove", "+48221234567", code=1).output
    )
    assert "Uses the number" in cli("senders", "remove", "ACME", code=1).output
    cli("rules", "disable", "Uses the number")
    cli("senders", "remove", "ACME")
    output = cli("rules", "enable", "Uses the number", code=1).output
    assert "cannot be enabled" in output and "column sender" in output


def test_usage_errors_exit_2_and_every_command_has_help(cli: Cli) -> None:
    cli("rules", "list", "--no-such-option", code=2)
    cli("numbers", "add", code=2)
    groups = {
        "accounts": ["add", "list", "show", "set", "remove"],
        "numbers": ["add", "list", "remove"],
        "senders": ["add", "list", "remove"],
        "optout": ["add", "remove", "list"],
        "rules": ["import", "export", "list", "show", "enable", "disable", "delete", "validate"],
        "db": ["upgrade"],
    }
    for group, commands in groups.items():
        assert "Usage" in cli(group, "--help").stdout
        for command in commands:
            assert "Usage" in cli(group, command, "--help").stdout
