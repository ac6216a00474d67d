"""``pbx-sms rules backtest FILE|NAME``: what a rule would have sent over the account's recent calls.

Registered on the ``rules`` app of :mod:`pbx_sms.cli.rules`; the work is pbx_sms.manage.backtest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.cli.db import opened_database, print_json
from pbx_sms.cli.rules import app
from pbx_sms.core.clock import utc_now
from pbx_sms.core.rulefile import RuleFileInvalid, load_rule_file
from pbx_sms.core.rules import Rule
from pbx_sms.core.text_safety import escape_controls
from pbx_sms.manage.backtest import DEFAULT_DAYS, MAX_DAYS, BacktestInvalid, backtest, saved_rule
from pbx_sms.storage.records import DEFAULT_ACCOUNT


@app.command("backtest")
def backtest_command(
    ctx: typer.Context,
    rule: Annotated[
        str,
        typer.Argument(
            help="A rule file (YAML) with one rule, or the name of a saved rule of the account.",
            metavar="FILE|NAME",
            show_default=False,
        ),
    ],
    days: Annotated[
        int, typer.Option("--days", min=1, max=MAX_DAYS, help=f"How many days back, up to {MAX_DAYS}.")
    ] = DEFAULT_DAYS,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            help="Account whose calls (and saved rule) these are (default: the file's account: key, else default).",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Replay a rule over the account's calls of the last N days: SMS it would have sent, to how many
    numbers, how many the outbox would have suppressed (by reason) or held for quiet hours, and examples.

    Nothing is sent or stored. The daily cap counts only this rule's SMS; today's opt-outs apply throughout.
    """
    settings = state(ctx).settings()
    path = Path(rule)
    file_rule: Rule | None = None
    if _is_file(path):
        account_of_file, file_rule = _file_rule(path)
        account = account or account_of_file
    account = account or DEFAULT_ACCOUNT
    with opened_database(ctx) as database:
        chosen = file_rule or saved_rule(database, account, rule)
        try:
            result = backtest(
                database,
                account,
                chosen,
                days=days,
                now=utc_now(),
                internal_max_digits=settings.tracking.internal_max_digits,
            ).as_json()
        except BacktestInvalid as exc:
            fail(f"--{exc.field} {exc.message}")
    if json_output:
        print_json(result)
        return
    _print_result(result, days)


def _is_file(path: Path) -> bool:
    """Whether the argument names a file; a name too long for a path (or with a NUL) is a rule's name."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _file_rule(path: Path) -> tuple[str, Rule]:
    try:
        rule_file = load_rule_file(path)
    except RuleFileInvalid as exc:
        fail("invalid rule file:\n" + "\n".join(str(error) for error in exc.errors))
    if len(rule_file.rules) != 1:
        fail(f"{path}: has {len(rule_file.rules)} rules; backtest one rule at a time (a file with one rule)")
    return rule_file.account, rule_file.rules[0]


def _print_result(result: dict[str, Any], days: int) -> None:
    lines = [
        f"rule {result['rule']!r}, account {result['account']!r}, last {days} day(s) "
        f"({result['since']} .. {result['until']})",
        f"calls: {result['calls']}, matched: {result['matched_calls']}",
        f"would send: {result['sent']} SMS to {result['distinct_numbers']} number(s)"
        f" ({result['delayed']} delayed by quiet hours)",
    ]
    suppressed = result["suppressed"]
    lines.append(f"suppressed: {sum(suppressed.values())}")
    lines.extend(f"  {reason}: {count}" for reason, count in suppressed.items())
    if result["examples"]:
        lines.append("examples:")
    for example in result["examples"]:
        outcome = f"sent {example['sent_at']}: {example['text']}" if example["reason"] is None else example["reason"]
        lines.append(f"  {example['call_ended_at']} {example['other_party']} → {example['to']}: {outcome}")
    for line in lines:
        typer.echo(escape_controls(line))
