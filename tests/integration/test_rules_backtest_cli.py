"""``pbx-sms rules backtest FILE|NAME``: the seeded call log's hand-worked answer, from a file or a saved rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from backtest_seed import DAYS, EXPECTED, RULE_DOCUMENT, seed_calls
from typer.testing import CliRunner, Result

from pbx_sms.cli.main import app
from pbx_sms.storage.accounts import add_account
from pbx_sms.storage.database import open_database


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    monkeypatch.chdir(tmp_path)
    database = open_database(database_url)
    with database.write_session() as session:
        add_account(session, "acme", timezone="Europe/Warsaw", country="PL")
        add_account(session, "globex", timezone="Europe/Warsaw", country="PL")
    seed_calls(database, datetime.now(UTC))
    database.close()
    return {"PBX_SMS_CONFIG": None, "PBX_SMS_DATABASE_URL": database_url}


def cli(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(app, ["rules", "backtest", *args], env=env)


def rule_file(tmp_path: Path, *documents: dict[str, object], account: str = "acme") -> Path:
    path = tmp_path / "rule.yaml"
    # JSON is YAML, and writes shared parts out (safe_dump would make aliases, which rule files refuse).
    path.write_text(json.dumps({"account": account, "rules": list(documents)}), encoding="utf-8")
    return path


def test_a_rule_file_is_backtested_against_its_account(env: dict[str, str | None], tmp_path: Path) -> None:
    result = cli(env, str(rule_file(tmp_path, RULE_DOCUMENT)), "--days", str(DAYS), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {key: data[key] for key in EXPECTED} == EXPECTED
    assert data["account"] == "acme"


def test_the_text_report_names_the_counts(env: dict[str, str | None], tmp_path: Path) -> None:
    result = cli(env, str(rule_file(tmp_path, RULE_DOCUMENT)), "--days", str(DAYS))
    assert result.exit_code == 0, result.output
    assert "would send: 5 SMS to 4 number(s) (1 delayed by quiet hours)" in result.output
    assert "  min_interval: 2" in result.output
    assert "Sorry we missed your call at 10:00" in result.output


def test_account_option_overrides_the_file(env: dict[str, str | None], tmp_path: Path) -> None:
    result = cli(env, str(rule_file(tmp_path, RULE_DOCUMENT)), "--account", "globex", "--days", "7", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["account"], data["calls"], data["sent"]) == ("globex", 1, 1)


def test_a_saved_rule_by_name(env: dict[str, str | None], tmp_path: Path) -> None:
    CliRunner().invoke(app, ["senders", "add", "ACME", "--account", "acme"], env=env, catch_exceptions=False)
    imported = CliRunner().invoke(app, ["rules", "import", str(rule_file(tmp_path, RULE_DOCUMENT))], env=env)
    assert imported.exit_code == 0, imported.output
    result = cli(env, "missed", "--account", "acme", "--days", str(DAYS), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sent"] == EXPECTED["sent"]


def test_unknown_rule_name(env: dict[str, str | None]) -> None:
    result = cli(env, "nope", "--account", "acme")
    assert result.exit_code == 1
    assert "account 'acme' has no rule named 'nope'" in result.output


def test_a_file_with_two_rules_is_refused(env: dict[str, str | None], tmp_path: Path) -> None:
    second = {**RULE_DOCUMENT, "name": "second"}
    result = cli(env, str(rule_file(tmp_path, RULE_DOCUMENT, second)))
    assert result.exit_code == 1
    assert "has 2 rules; backtest one rule at a time" in result.output


def test_an_invalid_file_names_the_line_and_field(env: dict[str, str | None], tmp_path: Path) -> None:
    bad = {**RULE_DOCUMENT, "then": {**RULE_DOCUMENT["then"], "delay": 5}}
    result = cli(env, str(rule_file(tmp_path, bad)))
    assert result.exit_code == 1
    assert "rules[0].then.delay: unknown key" in result.output


@pytest.mark.parametrize("days", ["0", "91"])
def test_days_are_bounded(env: dict[str, str | None], tmp_path: Path, days: str) -> None:
    result = cli(env, str(rule_file(tmp_path, RULE_DOCUMENT)), "--days", days)
    assert result.exit_code == 2
    assert "--days" in result.output
