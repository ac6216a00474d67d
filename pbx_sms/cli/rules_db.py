"""``pbx-sms rules import|export|list|show|enable|disable|delete``: rules kept in the database.

Registered on the ``rules`` app of :mod:`pbx_sms.cli.rules` (which owns ``validate``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
import yaml

from pbx_sms.cli.context import fail
from pbx_sms.cli.db import confirm_or_exit, print_json, print_table, read_session, write_session
from pbx_sms.cli.rules import app
from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_file, dump_rule_file
from pbx_sms.core.rules import Rule, RuleFile
from pbx_sms.core.text_safety import escape_controls
from pbx_sms.manage.rule_views import conditions_summary, size_warning, stored_json, text_shape
from pbx_sms.storage.records import DEFAULT_ACCOUNT
from pbx_sms.storage.rule_store import (
    ImportRejected,
    RuleSource,
    delete_rule,
    export_rules,
    get_stored_rule,
    import_rules,
    set_rule_enabled,
    stored_rules,
)

AccountOpt = Annotated[str, typer.Option("--account", help="Account whose rules these are.")]
NameArg = Annotated[str, typer.Argument(help="Rule name (quote it if it has spaces).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _shape_cell(rule: Rule) -> str:
    shape = text_shape(rule)
    approx = "" if shape["exact"] else "~"
    return f"{shape['encoding']} {approx}{shape['parts']}"


def _file_names_account(path: Path) -> bool:
    """Whether the file itself says ``account:`` (then it wins over --account)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "account" in data


@app.command("import")
def import_(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Rule files (YAML).", show_default=False)],
    replace: Annotated[
        bool, typer.Option("--replace", help="Make the accounts' rules exactly those in the files.")
    ] = False,
    account: Annotated[
        str, typer.Option("--account", help="Account for files without an account: key.")
    ] = DEFAULT_ACCOUNT,
) -> None:
    """Store the rules of the files, all or nothing: any error rejects the whole import."""
    sources: list[RuleSource] = []
    errors: list[str] = []
    warnings: list[str] = []
    for path in files:
        try:
            checked = check_rule_file(path)
        except RuleFileInvalid as exc:
            errors.extend(str(error) for error in exc.errors)
            continue
        rule_file = checked.rule_file
        warnings.extend(str(warning) for warning in checked.warnings)
        target = rule_file.account if _file_names_account(path) else account
        sources.append(RuleSource(str(path), target, rule_file.rules))
    if errors:
        fail("import rejected, the database is unchanged:\n  " + "\n  ".join(errors))
    with write_session(ctx) as session:
        try:
            result = import_rules(session, sources, replace=replace)
        except ImportRejected as exc:
            fail(str(exc))
    for label, names in (("added", result.added), ("updated", result.updated), ("deleted", result.deleted)):
        for name in names:
            typer.echo(escape_controls(f"{label}: {name}"))
    for warning in warnings:
        typer.echo(escape_controls(warning))
    typer.echo(
        f"imported {len(files)} file(s): {len(result.added)} added, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged, {len(result.deleted)} deleted"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default: standard output).")
    ] = None,
    account: AccountOpt = DEFAULT_ACCOUNT,
) -> None:
    """Write the account's rules as a rule file (YAML) that `rules import` reads back."""
    with read_session(ctx) as session:
        text = export_rules(session, account)
    if output is None:
        typer.echo(text, nl=False)
        return
    _write_atomically(output, text)
    typer.echo(f"wrote the rules of account {account!r} to {output}", err=True)


def _write_atomically(path: Path, text: str) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror}")


@app.command("list")
def list_(ctx: typer.Context, account: AccountOpt = DEFAULT_ACCOUNT, json_output: JsonOpt = False) -> None:
    """List the account's rules: enabled state, conditions, sender, recipients, text encoding and parts."""
    with read_session(ctx) as session:
        rules = stored_rules(session, account)
    if json_output:
        print_json([stored_json(stored) for stored in rules])
        return
    rows = []
    for stored in rules:
        state = ("yes" if stored.enabled else "no") + ("" if stored.valid else " INVALID")
        if stored.rule is None:
            problem = stored.problems[0]
            rows.append([stored.name, state, f"column {problem.field}: {problem.message}", "-", "-", "-"])
            continue
        rule = stored.rule
        rows.append(
            [stored.name, state, conditions_summary(rule), rule.then.sender, ",".join(rule.then.to), _shape_cell(rule)]
        )
    print_table(["NAME", "ENABLED", "WHEN", "SENDER", "TO", "TEXT"], rows, empty=f"account {account!r} has no rules")
    for stored in rules:
        warning = size_warning(stored.rule) if stored.rule is not None else None
        if warning is not None:
            typer.echo(f"warning: {escape_controls(warning)}")


@app.command("show")
def show(
    ctx: typer.Context, name: NameArg, account: AccountOpt = DEFAULT_ACCOUNT, json_output: JsonOpt = False
) -> None:
    """Show one rule as in a rule file, with its state, text encoding and parts."""
    with read_session(ctx) as session:
        stored = get_stored_rule(session, account, name)
    if json_output:
        print_json(stored_json(stored))
        return
    typer.echo(f"# account {account!r}, rule {name!r}: {'enabled' if stored.enabled else 'DISABLED'}")
    for problem in stored.problems:
        typer.echo(f"# INVALID: column {problem.field}: {problem.message}")
    if stored.rule is not None:
        shape = text_shape(stored.rule)
        typer.echo(f"# text: {shape['encoding']}, {'' if shape['exact'] else 'about '}{shape['parts']} part(s)")
        warning = size_warning(stored.rule)
        if warning is not None:
            typer.echo(f"# warning: {escape_controls(warning)}")
        typer.echo(dump_rule_file(RuleFile(account=account, rules=[stored.rule])), nl=False)


@app.command("enable")
def enable(ctx: typer.Context, name: NameArg, account: AccountOpt = DEFAULT_ACCOUNT) -> None:
    """Enable a rule again, exactly as it was (refused if it is invalid now)."""
    with write_session(ctx) as session:
        changed = set_rule_enabled(session, account, name, True)
    typer.echo(f"rule {name!r} {'enabled' if changed else 'was already enabled'}")


@app.command("disable")
def disable(ctx: typer.Context, name: NameArg, account: AccountOpt = DEFAULT_ACCOUNT) -> None:
    """Disable a rule temporarily; everything else about it is kept."""
    with write_session(ctx) as session:
        changed = set_rule_enabled(session, account, name, False)
    typer.echo(f"rule {name!r} {'disabled' if changed else 'was already disabled'}")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameArg,
    account: AccountOpt = DEFAULT_ACCOUNT,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a rule and cancel its pending SMS (asks first unless --yes; no terminal and no --yes: exit 1)."""
    with write_session(ctx) as session:
        get_stored_rule(session, account, name)  # a missing rule is reported before asking
        if not yes:
            confirm_or_exit(f"delete rule {name!r} of account {account!r}?")
        cancelled = delete_rule(session, account, name)
    typer.echo(f"deleted rule {name!r}" + (f"; cancelled {cancelled} pending SMS" if cancelled else ""))
