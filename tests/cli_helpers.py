"""Running the ``pbx-sms`` Typer app in-process, the way the CLI tests do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pbx_sms.cli.main import app

Cli = Callable[..., Result]


def admin_env(database_url: str) -> dict[str, str]:
    """The settings an admin command needs: a database, a time zone and a country for phone numbers."""
    return {"PBX_SMS_DATABASE_URL": database_url, "PBX_SMS_TIMEZONE": "Europe/Warsaw", "PBX_SMS_COUNTRY": "PL"}


def admin_cli(database_url: str) -> Cli:
    """``cli("accounts", "list", code=0)`` runs ``pbx-sms accounts list`` and fails the test on another exit code."""
    runner = CliRunner()
    env = admin_env(database_url)

    def run(*args: str, code: int = 0) -> Result:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == code, f"pbx-sms {' '.join(args)} → {result.exit_code}:\n{result.output}"
        return result

    return run


def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """Settings for a command run in ``tmp_path``: no config file, a fresh SQLite database there."""
    monkeypatch.chdir(tmp_path)
    return {
        "PBX_SMS_CONFIG": None,
        "PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "PBX_SMS_TIMEZONE": "Europe/Warsaw",
        "PBX_SMS_COUNTRY": "PL",
    }


def write_rule_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path
