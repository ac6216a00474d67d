"""``pbx-sms log``: the SMS log (every SMS the rules produced and what became of it)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.cli.db import opened_database, print_json, print_table
from pbx_sms.cli.outbox import JsonOpt, StatusOpt, parse_statuses
from pbx_sms.core.clock import utc_now
from pbx_sms.core.phone import normalise
from pbx_sms.outbox.sql import SqlOutbox

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, now: datetime) -> datetime:
    """``2h``/``30m``/``7d`` ago, or an ISO date/time (no zone = UTC)."""
    match = _AGO.match(value.strip())
    try:
        if match:
            return now - timedelta(seconds=int(match.group(1)) * _UNIT_S[match.group(2)])
        parsed = datetime.fromisoformat(value.strip())
        # In UTC here: a time near year 1 or 9999 with an offset has no UTC time to compare with.
        return (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed).astimezone(UTC)
    except ValueError:
        fail(f"--since: expected a time like 2h, 30m, 7d, 2026-03-10 or 2026-03-10T08:00+01:00, got {value!r}")
    except OverflowError:
        fail(f"--since {value!r}: outside the times that can be compared (0001-01-01 to 9999-12-31 UTC)")


def smslog(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="From this time: 2h, 7d, or ISO 8601.")] = None,
    status: StatusOpt = None,
    number: Annotated[
        str | None, typer.Option("--number", help="Only SMS to this number or about a call with it.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
    json_output: JsonOpt = False,
) -> None:
    """The SMS log: rule, call, recipient, status, reason, gateway and message id."""
    settings = state(ctx).settings()
    start = parse_since(since, utc_now()) if since else None
    wanted = number
    if number is not None:
        wanted = normalise(number, settings.country)
        if wanted is None:
            fail(f"--number: {number!r} is not a valid phone number (country {settings.country})")
    with opened_database(ctx) as database:
        rows = SqlOutbox(database.engine).list(statuses=parse_statuses(status), since=start, number=wanted, limit=limit)
    if json_output:
        print_json([row.to_json() for row in rows])
        return
    print_table(
        ["ID", "CREATED", "STATUS", "TO", "RULE", "CALL", "PARTS", "GATEWAY", "MESSAGE ID", "REASON"],
        [
            (
                row.id,
                row.created_at.isoformat(timespec="seconds"),
                row.status.value,
                row.to,
                row.rule_name,
                row.call_id,
                row.parts,
                row.gateway,
                row.message_id,
                row.reason or row.last_error or row.note,
            )
            for row in rows
        ],
    )
