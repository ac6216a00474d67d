"""``pbx-sms simulate``: one call described on the command line → which rules fire and the exact SMS.

With ``--rules`` it reads only those files: no database is opened or created. Without it, the rules
of the account that owns the company number come from the database, and so do its quiet hours.
"""

from __future__ import annotations

import json
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.core.bounds import INTEGER_MAX
from pbx_sms.core.clock import utc_now
from pbx_sms.core.matching import AccountPolicy
from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.rulefile import RuleFileInvalid, load_rule_file
from pbx_sms.core.rules import Rule, duplicate_names
from pbx_sms.core.text_safety import escape_json_controls
from pbx_sms.manage import simulation


class CallDirection(StrEnum):
    incoming = "in"
    outgoing = "out"


class CallStatusOption(StrEnum):
    answered = "answered"
    no_answer = "no_answer"
    busy = "busy"
    failed = "failed"


def simulate(
    ctx: typer.Context,
    direction: Annotated[CallDirection, typer.Option("--direction", help="Call direction.", show_default=False)],
    number: Annotated[
        str, typer.Option("--number", help="Company number (dialled DID or presented number).", show_default=False)
    ],
    other: Annotated[
        str,
        typer.Option(
            "--other", help="Other party: caller of an incoming, callee of an outgoing call.", show_default=False
        ),
    ],
    status: Annotated[CallStatusOption, typer.Option("--status", help="Call status.", show_default=False)],
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", help="Rule file (YAML); may repeat.", show_default=False)
    ] = None,
    talk_s: Annotated[int, typer.Option("--talk-s", min=0, max=INTEGER_MAX, help="Talk time in seconds.")] = 0,
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="End of the call, ISO 8601 (default: now; no offset = account time zone).", show_default=False
        ),
    ] = None,
    quiet_hours: Annotated[
        str | None,
        typer.Option(
            "--quiet-hours",
            help="The account's quiet hours, e.g. 21:00-08:00 (default: none with --rules, else the account's own).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show which rules fire for one call and the exact SMS: one JSON object per line (nothing is sent).

    Keys: rule, to, sender, text, encoding, parts, due_at (end of call + delay, moved to the end of the
    account's quiet hours when it falls inside them), reason (null = would be sent, else why it is
    suppressed); with quiet hours also wanted_at (before they held it) and quiet_hours. Numbers are read
    with the configured country.
    """
    settings = state(ctx).settings()
    quiet: QuietHours | None = None
    if quiet_hours is not None:
        try:
            quiet = QuietHours.parse(quiet_hours)
        except ValueError as exc:
            fail(f"--quiet-hours: {exc}")
    try:
        company_number = simulation.company_number(number, settings.country)
        if rules:
            account_name, rule_list = _load_rules(rules)
            account = AccountPolicy(
                name=account_name,
                timezone=settings.timezone,
                country=settings.country,
                allowed_countries=frozenset({settings.country}),
                sms_enabled=True,
            )
            setup = simulation.SimulationSetup(account, rule_list, quiet)
        else:
            setup = _database_setup(ctx, company_number)
            setup = replace(setup, quiet_hours=quiet or setup.quiet_hours)
        described = simulation.DescribedCall(direction.value, company_number, other, status.value, talk_s, at)
        planned = simulation.simulate_call(
            described, setup, internal_max_digits=settings.tracking.internal_max_digits, now=utc_now()
        )
    except simulation.SimulationInvalid as exc:
        fail(f"--{exc.field.replace('_', '-')} {exc.message}")
    for sms in planned:
        typer.echo(escape_json_controls(json.dumps(sms, ensure_ascii=False)))
    if not planned:
        typer.echo("no rule matched this call", err=True)


def _database_setup(ctx: typer.Context, company_number: str) -> simulation.SimulationSetup:
    """The enabled rules and quiet hours of the account that owns the company number (``default`` if none does)."""
    from pbx_sms.cli.db import opened_database

    with opened_database(ctx) as database, database.session() as session:
        return simulation.number_setup(session, company_number)


def _load_rules(paths: list[Path]) -> tuple[str, list[Rule]]:
    accounts: dict[str, Path] = {}
    rules: list[Rule] = []
    problems: list[str] = []
    for path in paths:
        try:
            rule_file = load_rule_file(path)
        except RuleFileInvalid as exc:
            problems.extend(str(error) for error in exc.errors)
            continue
        accounts.setdefault(rule_file.account, path)
        rules.extend(rule_file.rules)
    if problems:
        fail("invalid rule file:\n" + "\n".join(problems))
    if len(accounts) > 1:
        named = ", ".join(f"{name!r} ({path})" for name, path in accounts.items())
        fail(f"the rule files are for different accounts: {named}; a call belongs to one account")
    duplicates = duplicate_names([rule.name for rule in rules])
    if duplicates:
        fail("rule names must be unique across the files: " + ", ".join(repr(name) for name in duplicates))
    return next(iter(accounts)), rules
