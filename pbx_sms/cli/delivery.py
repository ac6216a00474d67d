"""``pbx-sms delivery``: do an account's SMS reach people (the last days' delivery reports per rule)."""

from __future__ import annotations

from typing import Annotated

import typer

from pbx_sms.cli.db import print_json, print_table, read_session
from pbx_sms.core.clock import utc_now
from pbx_sms.manage.delivery import DEFAULT_DAYS, MAX_DAYS, delivery_report
from pbx_sms.storage.accounts import get_account

NO_RATE = "—"  # nothing final reported yet: no rate, rather than a misleading 0 %
TOTAL_ROW = "(all rules)"


def percent(rate: float | None) -> str:
    return NO_RATE if rate is None else f"{rate * 100:.1f}%"


def delivery(
    ctx: typer.Context,
    account: Annotated[str, typer.Option("--account", help="The account whose SMS to count.")],
    days: Annotated[
        int, typer.Option("--days", min=1, max=MAX_DAYS, help=f"The last this many days (1 to {MAX_DAYS}).")
    ] = DEFAULT_DAYS,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (times in UTC) for scripts.")] = False,
) -> None:
    """Per rule, the SMS sent in the last days and how many were delivered, not delivered or are still
    pending (no final report); RATE is delivered / (delivered + not delivered), "—" with none final."""
    with read_session(ctx) as session:
        report = delivery_report(session, get_account(session, account).id, account, utc_now(), days)
    if json_output:
        print_json(report.to_json())
        return
    typer.echo(f"account {account}: SMS sent since {report.since.isoformat(timespec='seconds')} ({days} days)")
    if not report.rules:
        typer.echo(f"No SMS sent in the last {days} days.")
        return
    rows: list[tuple[int | None, str, int, int, int, int, str]] = [
        (rule.rule_id, rule.rule_name, rule.sent, rule.delivered, rule.undelivered, rule.pending, percent(rule.rate))
        for rule in report.rules
    ]
    total = report.total
    rows.append((None, TOTAL_ROW, total.sent, total.delivered, total.undelivered, total.pending, percent(total.rate)))
    print_table(["RULE ID", "RULE", "SENT", "DELIVERED", "NOT DELIVERED", "PENDING", "RATE"], rows)
