"""``pbx-sms simulate``: one call described on the command line → which rules fire and the exact SMS.

With ``--rules`` it reads only those files: no database is opened or created. Without it, the rules
of the account that owns the company number come from the database, and so do its quiet hours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.core.bounds import INTEGER_MAX
from pbx_sms.core.call import CompletedCall
from pbx_sms.core.clock import utc_now
from pbx_sms.core.matching import AccountPolicy, PlannedSms, match_call
from pbx_sms.core.phone import normalise
from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.rulefile import RuleFileInvalid, load_rule_file
from pbx_sms.core.rules import Rule, duplicate_names
from pbx_sms.core.schedule import zone
from pbx_sms.core.text_safety import escape_json_controls

OUTPUT_KEYS = ("rule", "to", "sender", "text", "encoding", "parts", "due_at", "reason")
# Added when the account has quiet hours: the time before they held the SMS (end of call + delay).
QUIET_HOURS_KEYS = ("wanted_at", "quiet_hours")


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
    company_number = normalise(number, settings.country)
    if company_number is None:
        fail(f"--number {number!r} is not a valid phone number (read with country {settings.country})")
    if rules:
        account_name, rule_list = _load_rules(rules)
        account = AccountPolicy(
            name=account_name,
            timezone=settings.timezone,
            country=settings.country,
            allowed_countries=frozenset({settings.country}),
            sms_enabled=True,
        )
    else:
        account, rule_list, account_quiet = _database_rules(ctx, company_number)
        quiet = quiet or account_quiet
    ended_at = _call_end(at, account.timezone)
    try:
        call = CompletedCall(
            call_id="simulated",
            direction=direction.value,
            number=company_number,
            other_party=normalise(other, account.country) or other.strip(),
            status=status.value,
            talk_s=talk_s,
            started_at=ended_at - timedelta(seconds=talk_s),
            ended_at=ended_at,
        )
        planned = match_call(call, account, rule_list, internal_max_digits=settings.tracking.internal_max_digits)
        lines = [json.dumps(planned_sms_json(sms, account.timezone, quiet), ensure_ascii=False) for sms in planned]
    except OverflowError:
        # A call near 0001-01-01 or 9999-12-31: its start, or an SMS due after it, has no date.
        fail(f"--at {at!r} with --talk-s {talk_s}: the call or its SMS fall outside 0001-01-01..9999-12-31")
    for line in lines:
        typer.echo(escape_json_controls(line))
    if not planned:
        typer.echo("no rule matched this call", err=True)


def _database_rules(
    ctx: typer.Context, company_number: str | None
) -> tuple[AccountPolicy, list[Rule], QuietHours | None]:
    """The enabled rules and quiet hours of the account that owns the company number (``default`` if none does)."""
    from pbx_sms.cli.db import opened_database
    from pbx_sms.storage.accounts import account_for_number, to_config
    from pbx_sms.storage.rule_store import load_rules_for_number

    with opened_database(ctx) as database, database.session() as session:
        account, rules = load_rules_for_number(session, company_number)
        return account, rules, to_config(account_for_number(session, company_number)).quiet_hours


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


def _call_end(at: str | None, timezone: str) -> datetime:
    if at is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        fail(f"--at {at!r}: expected an ISO 8601 time such as 2026-11-25T10:00:00+01:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone))
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        fail(f"--at {at!r}: outside 0001-01-01..9999-12-31 in UTC")


def planned_sms_json(sms: PlannedSms, timezone: str, quiet_hours: QuietHours | None = None) -> dict[str, object]:
    """One SMS for the output; with quiet hours, its due time as the outbox would hold it."""
    tz = zone(timezone)
    due_at = sms.due_at
    # The outbox holds only SMS it would send; a suppressed one keeps its time.
    if quiet_hours is not None and sms.reason is None:
        due_at = quiet_hours.next_allowed(sms.due_at, timezone)
    values: dict[str, object] = {
        "rule": sms.rule,
        "to": sms.to,
        "sender": sms.sender,
        "text": sms.text,
        "encoding": sms.encoding,
        "parts": sms.parts,
        "due_at": due_at.astimezone(tz).isoformat(),
        "reason": sms.reason,
    }
    if quiet_hours is None:
        return {key: values[key] for key in OUTPUT_KEYS}
    values |= {"wanted_at": sms.due_at.astimezone(tz).isoformat(), "quiet_hours": str(quiet_hours)}
    return {key: values[key] for key in OUTPUT_KEYS + QUIET_HOURS_KEYS}
