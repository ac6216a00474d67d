"""``pbx-sms rules validate``: every error printed, exit codes, one summary line per file, no database."""

from __future__ import annotations

from pathlib import Path

import pytest
from paths import ROOT
from typer.testing import CliRunner

from pbx_sms.cli.main import app

RULES_DIR = ROOT / "rules"

BAD = """\
rules:
  - name: One
    when: {direction: in, numbers: all, status: [busy]}
    then:
      sender: ACME
      to: [other_party]
      text: "Hi {nmber}"
  - name: Two
    when:
      direction: in
      numbers: all
      status: [busy]
      schedule: {hours: [{from: 18:00, to: "08:00"}]}
    then: {sender: ACME, to: [other_party], text: "x", delay: 5}
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    monkeypatch.chdir(tmp_path)
    return {"PBX_SMS_CONFIG": None, "PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}


def validate(env: dict[str, str | None], *files: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["rules", "validate", *map(str, files)], env=env)
    return result.exit_code, result.output.splitlines()


def test_example_files_are_valid(env: dict[str, str | None], tmp_path: Path) -> None:
    files = sorted(RULES_DIR.glob("*.yaml"))
    code, lines = validate(env, *files)
    assert code == 0
    assert len(lines) == len(files)
    assert lines[0] == f"{files[0]}: OK, account 'default', 2 rules (1 enabled)"
    assert all(": OK, account 'default', " in line for line in lines)
    assert not (tmp_path / "db.sqlite").exists() and not (tmp_path / "pbx-sms.db").exists()


def test_every_error_printed_and_exit_1(env: dict[str, str | None], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    code, lines = validate(env, bad)
    assert code == 1
    assert [line.split(": ", 2)[:2] for line in lines[:3]] == [
        [f"{bad}:7", "rules[0].then.text"],
        [f"{bad}:13", "rules[1].when.schedule.hours[0].from"],
        [f"{bad}:14", "rules[1].then.delay"],
    ]
    assert lines[3] == f"{bad}: invalid, 3 problems; nothing in it is used"
    assert not (tmp_path / "db.sqlite").exists()


def test_good_and_bad_files_together(env: dict[str, str | None], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [1]\n", encoding="utf-8")
    good = RULES_DIR / "thank-you.yaml"
    code, lines = validate(env, good, bad, tmp_path / "missing.yaml")
    assert code == 1
    assert lines[0] == f"{good}: OK, account 'default', 1 rule (1 enabled)"
    assert lines[1].startswith(f"{bad}:1: rules[0]: expected a mapping")
    assert lines[2] == f"{bad}: invalid, 1 problem; nothing in it is used"
    assert lines[3].startswith(f"{tmp_path / 'missing.yaml'}: cannot read the file")


def test_needs_at_least_one_file(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(app, ["rules", "validate"], env=env)
    assert result.exit_code == 2
