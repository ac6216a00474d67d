"""``pbx-sms simulate`` with quiet hours: due_at as the outbox would hold it, with the wanted time beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import isolated_env, write_rule_file
from typer.testing import CliRunner

from pbx_sms.cli.main import app

KEYS = ["rule", "to", "sender", "text", "encoding", "parts", "due_at", "reason", "wanted_at", "quiet_hours"]
CALL = ["--direction", "in", "--number", "+48221234567", "--other", "+48601234567", "--status", "no_answer"]
RULE_FILE = """\
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: ["+48221234567"], status: [no_answer, busy]}
    then: {sender: ACME, to: [other_party, "+48600100100"], text: "Oddzwonimy", delay_s: 90}
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    return isolated_env(tmp_path, monkeypatch)


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    return write_rule_file(tmp_path, RULE_FILE)


def cli(env: dict[str, str | None], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def simulate(env: dict[str, str | None], *args: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in cli(env, "simulate", *args).splitlines() if line.startswith("{")]


def test_rule_file_with_quiet_hours_holds_until_their_end(env: dict[str, str | None], rule_file: Path) -> None:
    # 20:59 + 90 s = 21:00:30, inside 21:00-08:00: held until 08:00 the next morning.
    lines = simulate(
        env, "--rules", str(rule_file), *CALL, "--at", "2026-11-25T20:59:00+01:00", "--quiet-hours", "21:00-08:00"
    )
    assert [list(line) for line in lines] == [KEYS, KEYS]
    assert {(line["due_at"], line["wanted_at"], line["quiet_hours"]) for line in lines} == {
        ("2026-11-26T08:00:00+01:00", "2026-11-25T21:00:30+01:00", "21:00-08:00")
    }
    assert not (Path.cwd() / "db.sqlite").exists()


def test_outside_quiet_hours_due_at_is_the_wanted_time(env: dict[str, str | None], rule_file: Path) -> None:
    lines = simulate(
        env, "--rules", str(rule_file), *CALL, "--at", "2026-11-25T20:58:00+01:00", "--quiet-hours", "21:00-08:00"
    )
    assert {(line["due_at"], line["wanted_at"]) for line in lines} == {
        ("2026-11-25T20:59:30+01:00", "2026-11-25T20:59:30+01:00")
    }


def test_suppressed_sms_keep_their_time(env: dict[str, str | None], rule_file: Path) -> None:
    anonymous = ["--direction", "in", "--number", "+48221234567", "--other", "anonymous", "--status", "no_answer"]
    lines = simulate(
        env, "--rules", str(rule_file), *anonymous, "--at", "2026-11-25T23:00:00+01:00", "--quiet-hours", "21:00-08:00"
    )
    by_recipient = {line["to"]: (line["due_at"], line["reason"]) for line in lines}
    assert by_recipient == {
        "anonymous": ("2026-11-25T23:01:30+01:00", "anonymous"),
        "+48600100100": ("2026-11-26T08:00:00+01:00", None),
    }


def test_bad_quiet_hours_option_is_refused(env: dict[str, str | None], rule_file: Path) -> None:
    out = cli(env, "simulate", "--rules", str(rule_file), *CALL, "--quiet-hours", "nights", code=1)
    assert "--quiet-hours: quiet hours 'nights': expected \"HH:MM-HH:MM\"" in out


def test_database_mode_uses_the_accounts_quiet_hours(env: dict[str, str | None], rule_file: Path) -> None:
    cli(env, "senders", "add", "ACME")
    cli(env, "rules", "import", str(rule_file))
    at = ["--at", "2026-11-25T22:00:00+01:00"]
    assert {line["due_at"] for line in simulate(env, *CALL, *at)} == {"2026-11-25T22:01:30+01:00"}
    assert "wanted_at" not in simulate(env, *CALL, *at)[0]

    cli(env, "accounts", "set", "default", "--quiet-hours", "21:00-08:00")
    lines = simulate(env, *CALL, *at)
    assert {(line["due_at"], line["wanted_at"]) for line in lines} == {
        ("2026-11-26T08:00:00+01:00", "2026-11-25T22:01:30+01:00")
    }
    # --quiet-hours overrides the account's for a what-if.
    lines = simulate(env, *CALL, *at, "--quiet-hours", "23:00-07:00")
    assert {line["due_at"] for line in lines} == {"2026-11-25T22:01:30+01:00"}
