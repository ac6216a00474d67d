"""``pbx-sms outbox``: what is waiting to be sent, retry or cancel one SMS, run a worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.cli.db import opened_database, print_json, print_table
from pbx_sms.config import ConfigError
from pbx_sms.core.clock import utc_now
from pbx_sms.core.sms_status import PENDING_STATUSES, Status
from pbx_sms.gateways.base import GatewayConfigError
from pbx_sms.logs import setup_logging
from pbx_sms.outbox.model import OutboxError, OutboxRow
from pbx_sms.outbox.sql import SqlOutbox

app = typer.Typer(no_args_is_help=True, help="The outbox: SMS waiting to be sent, and the worker that sends them.")

_STATUS_HELP = "Only SMS with this status (repeatable): " + ", ".join(status.value for status in Status) + "."
StatusOpt = Annotated[list[str] | None, typer.Option("--status", help=_STATUS_HELP)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
IdArg = Annotated[int, typer.Argument(help="The SMS id (first column of `outbox list`).")]


def parse_statuses(values: list[str] | None) -> list[Status] | None:
    if not values:
        return None
    known = {status.value: status for status in Status}
    unknown = [value for value in values if value not in known]
    if unknown:
        fail(f"--status: unknown status {unknown[0]!r} (expected one of: {', '.join(known)})")
    return [known[value] for value in values]


def _table(rows: list[OutboxRow]) -> None:
    print_table(
        ["ID", "STATUS", "DUE", "TO", "RULE", "ATTEMPTS", "REASON"],
        [
            (
                row.id,
                row.status.value,
                row.due_at.isoformat(timespec="seconds"),
                row.to,
                row.rule_name,
                row.attempts,
                row.reason or row.last_error or row.note,
            )
            for row in rows
        ],
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    status: StatusOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
    json_output: JsonOpt = False,
) -> None:
    """SMS in the outbox (default: queued, sending and unclear: those that may still go out)."""
    statuses = parse_statuses(status) or sorted(PENDING_STATUSES)
    with opened_database(ctx) as database:
        rows = SqlOutbox(database.engine).list(statuses=statuses, limit=limit)
    if json_output:
        print_json([row.to_json() for row in rows])
    else:
        _table(rows)


def _change(ctx: typer.Context, sms_id: int, change: Callable[[SqlOutbox, int, datetime], OutboxRow]) -> OutboxRow:
    """Apply one change to an SMS now; the outbox refusing it (unknown id, wrong status) is a CLI error."""
    with opened_database(ctx) as database:
        try:
            row = change(SqlOutbox(database.engine), sms_id, utc_now())
        except OutboxError as exc:
            fail(str(exc))
    return row


@app.command("retry")
def retry(ctx: typer.Context, sms_id: IdArg) -> None:
    """Queue a failed, suppressed, cancelled or unclear SMS again, due now (same idempotency key).

    For an unclear SMS (an attempt that may have gone out: check the provider's log first) this is the
    decision to send it again; it then meets the limits like a new SMS.
    """
    row = _change(ctx, sms_id, SqlOutbox.retry)
    typer.echo(f"SMS {row.id} to {row.to} queued again")


@app.command("cancel")
def cancel(ctx: typer.Context, sms_id: IdArg) -> None:
    """Cancel a queued SMS (it stays in the SMS log as cancelled)."""
    row = _change(ctx, sms_id, SqlOutbox.cancel)
    typer.echo(f"SMS {row.id} to {row.to} cancelled")


@app.command("work")
def work(ctx: typer.Context) -> None:
    """Run only the outbox worker (extra workers, other hosts sharing a PostgreSQL database).

    SIGTERM/SIGINT stop it gracefully; a second signal stops it at once.
    """
    from pbx_sms.outbox.runner import run_worker

    settings = state(ctx).settings()
    _configure_logging(settings.logging.level, settings.logging.format)
    try:
        asyncio.run(run_worker(settings))
    except (ConfigError, GatewayConfigError) as exc:
        fail(str(exc))


def _configure_logging(level: str, log_format: str) -> None:
    try:
        setup_logging(log_format, level)
    except ValueError:
        fail(f"PBX_SMS_LOG_LEVEL: unknown level {level!r} (expected DEBUG, INFO, WARNING or ERROR)")
