"""``pbx-sms simulate``: the issue's command line, JSON lines with every key, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import isolated_env, write_rule_file
from paths import ROOT
from typer.testing import CliRunner

from pbx_sms.cli.main import app

RULES_DIR = ROOT / "rules"
KEYS = ["rule", "to", "sender", "text", "encoding", "parts", "due_at", "reason"]
CALL = ["--direction", "in", "--number", "+48221234567", "--other", "+48601234567", "--status", "no_answer"]

RULE_FILE = """\
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: ["+48221234567"], status: [no_answer, busy]}
    then:
      sender: ACME
      to: [other_party, "+48600100100"]
      text: "Nie odebraliśmy o {time}, oddzwonimy na {other_party}"
      delay_s: 90
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered]}
    then: {sender: ACME, to: [other_party], text: "Dziekujemy"}
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    return isolated_env(tmp_path, monkeypatch)


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    return write_rule_file(tmp_path, RULE_FILE)


def run(env: dict[str, str | None], *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(app, ["simulate", *args], env=env)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, result.stderr


def test_issue_command_line(env: dict[str, str | None], rule_file: Path, tmp_path: Path) -> None:
    code, lines, _ = run(env, "--rules", str(rule_file), *CALL, "--talk-s", "0", "--at", "2026-11-25T10:00:00+01:00")
    assert code == 0
    assert [list(line) for line in lines] == [KEYS, KEYS]
    other, manager = lines
    assert other == {
        "rule": "Missed",
        "to": "+48601234567",
        "sender": "ACME",
        "text": "Nie odebraliśmy o 10:00, oddzwonimy na +48601234567",
        "encoding": "UCS-2",
        "parts": 1,
        "due_at": "2026-11-25T10:01:30+01:00",
        "reason": None,
    }
    assert (manager["to"], manager["reason"]) == ("+48600100100", None)
    assert not (tmp_path / "db.sqlite").exists()
    assert not (tmp_path / "pbx-sms.db").exists()


def test_numbers_are_read_with_configured_country(env: dict[str, str | None], rule_file: Path) -> None:
    args = ["--direction", "in", "--number", "22 123 45 67", "--other", "601-234-567", "--status", "busy"]
    code, lines, _ = run(env, "--rules", str(rule_file), *args, "--at", "2026-11-25T10:00:00")
    assert code == 0
    assert lines[0]["to"] == "+48601234567"
    # Without an offset --at is the account's local time.
    assert lines[0]["due_at"] == "2026-11-25T10:01:30+01:00"


def test_suppressed_sms_are_listed_with_their_reason(env: dict[str, str | None], rule_file: Path) -> None:
    args = ["--direction", "in", "--number", "+48221234567", "--other", "anonymous", "--status", "no_answer"]
    code, lines, _ = run(env, "--rules", str(rule_file), *args)
    assert code == 0
    assert [(line["to"], line["reason"]) for line in lines] == [("anonymous", "anonymous"), ("+48600100100", None)]


def test_no_matching_rule_prints_nothing_on_stdout(env: dict[str, str | None], rule_file: Path) -> None:
    args = ["--direction", "out", "--number", "+48221234567", "--other", "+48601234567", "--status", "busy"]
    result = CliRunner().invoke(app, ["simulate", "--rules", str(rule_file), *args], env=env)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no rule matched" in result.stderr


def test_rules_may_repeat(env: dict[str, str | None]) -> None:
    files = [str(RULES_DIR / "missed-call.yaml"), str(RULES_DIR / "thank-you.yaml")]
    args = ["--rules", files[0], "--rules", files[1], *CALL, "--at", "2026-11-27T20:00:00+01:00"]
    code, lines, _ = run(env, *args)
    assert code == 0
    assert [line["rule"] for line in lines] == ["Missed call - after hours", "Missed call - tell the manager"]
    answered = ["--direction", "in", "--number", "+48221234567", "--other", "+48601234567", "--status", "answered"]
    code, lines, _ = run(env, "--rules", files[0], "--rules", files[1], *answered, "--talk-s", "45")
    assert [line["rule"] for line in lines] == ["Thank you after a call"]


def test_without_rules_it_uses_the_database_rules(env: dict[str, str | None], rule_file: Path) -> None:
    for command in (["senders", "add", "ACME"], ["rules", "import", str(rule_file)]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code == 0, result.output
    code, lines, _ = run(env, *CALL, "--at", "2026-11-25T10:00:00+01:00")
    assert code == 0
    assert [(line["rule"], line["to"]) for line in lines] == [
        ("Missed", "+48601234567"),
        ("Missed", "+48600100100"),
    ]
    assert lines[0]["text"] == "Nie odebraliśmy o 10:00, oddzwonimy na +48601234567"
    assert lines[0]["due_at"] == "2026-11-25T10:01:30+01:00"
    disabled = CliRunner().invoke(app, ["rules", "disable", "Missed"], env=env)
    assert disabled.exit_code == 0, disabled.output
    code, lines, _ = run(env, *CALL)
    assert code == 0 and lines == []


def test_invalid_rule_file_is_reported_with_lines(env: dict[str, str | None], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULE_FILE.replace("delay_s: 90", "delay: 90"), encoding="utf-8")
    code, lines, stderr = run(env, "--rules", str(bad), *CALL)
    assert code == 1 and lines == []
    assert f"{bad}:9: rules[0].then.delay: unknown key" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--number", "12"], "--number"),
        (["--at", "yesterday"], "ISO 8601"),
        (["--status", "missed"], "missed"),
        (["--direction", "sideways"], "sideways"),
        (["--talk-s", "-1"], "--talk-s"),
    ],
)
def test_bad_arguments(env: dict[str, str | None], rule_file: Path, args: list[str], message: str) -> None:
    base = dict(zip(CALL[::2], CALL[1::2], strict=True))
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair]
    result = CliRunner().invoke(app, ["simulate", "--rules", str(rule_file), *flat], env=env)
    assert result.exit_code != 0
    assert message in result.output


def test_files_for_different_accounts_are_refused(env: dict[str, str | None], rule_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(
        RULE_FILE.replace("account: default", "account: shop").replace("Missed", "M2").replace("Thanks", "T2")
    )
    code, _, stderr = run(env, "--rules", str(rule_file), "--rules", str(other), *CALL)
    assert code == 1 and "different accounts" in stderr


def test_same_rule_name_in_two_files_is_refused(env: dict[str, str | None], rule_file: Path) -> None:
    code, _, stderr = run(env, "--rules", str(rule_file), "--rules", str(rule_file), *CALL)
    assert code == 1 and "'Missed'" in stderr


def test_time_zone_comes_from_settings(env: dict[str, str | None], rule_file: Path) -> None:
    env = {**env, "PBX_SMS_TIMEZONE": "America/New_York", "PBX_SMS_COUNTRY": "PL"}
    code, lines, _ = run(env, "--rules", str(rule_file), *CALL, "--at", "2026-11-25T10:00:00+01:00")
    assert code == 0
    assert lines[0]["due_at"] == "2026-11-25T04:01:30-05:00"
    assert "o 04:00" in str(lines[0]["text"])


def test_console_entry_point(env: dict[str, str | None], rule_file: Path, tmp_path: Path) -> None:
    environment = {key: value for key, value in env.items() if value is not None}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pbx_sms.cli.main import main; main()",
            "simulate",
            "--rules",
            str(rule_file),
            *CALL,
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **environment},
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert [json.loads(line)["rule"] for line in completed.stdout.splitlines()] == ["Missed", "Missed"]
