"""``pbx-sms rules``: rule files. ``validate`` checks files and never touches a database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_file
from pbx_sms.core.text_safety import escape_controls

app = typer.Typer(
    no_args_is_help=True,
    help="Rules: validate, import, export (YAML, see docs/rules.md); list, enable, disable, delete.",
)


@app.callback()
def _rules() -> None:
    """Rules: validate, import, export (YAML, see docs/rules.md); list, enable, disable, delete."""


@app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="Rule files (YAML) to check.", show_default=False)],
) -> None:
    """Check rule files: print every problem as FILE:LINE: FIELD: MESSAGE; exit 1 if there is any.

    A text of more than 6 parts is valid, with a warning (FILE:LINE: FIELD: warning: ...): each part is
    billed. Reads only the files: no database is opened or created.
    """
    invalid = 0
    for path in files:
        shown = escape_controls(str(path))
        try:
            checked = check_rule_file(path)
        except RuleFileInvalid as exc:
            invalid += 1
            for error in exc.errors:
                typer.echo(escape_controls(str(error)))
            count = len(exc.errors)
            typer.echo(f"{shown}: invalid, {count} problem{'s' if count != 1 else ''}; nothing in it is used")
            continue
        rule_file = checked.rule_file
        for warning in checked.warnings:
            typer.echo(escape_controls(str(warning)))
        enabled = sum(rule.enabled for rule in rule_file.rules)
        total = len(rule_file.rules)
        typer.echo(
            f"{shown}: OK, account {rule_file.account!r}, {total} rule{'s' if total != 1 else ''} ({enabled} enabled)"
        )
    if invalid:
        raise typer.Exit(1)
