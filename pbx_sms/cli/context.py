"""What every CLI command shares: the config path given on the command line, and settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer

from pbx_sms.config import ConfigError, Settings, load_settings
from pbx_sms.core.text_safety import escape_controls


@dataclass
class CliState:
    config_path: Path | None = None
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                fail(str(exc))
        assert self._settings is not None
        return self._settings


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a user error to stderr and exit (1 = validation/user error). A value quoted in the message
    (a file name, a caller ID) may hold control characters: they are printed as escapes."""
    typer.echo(f"error: {escape_controls(message, keep=chr(10))}", err=True)
    raise typer.Exit(code)
