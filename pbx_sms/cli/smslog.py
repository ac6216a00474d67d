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
from pbx_sms.core.delivery import SHOWN_DELIVERY_STATUSES, DeliveryStatus, shown_delivery_named
from pbx_sms.core.phone import normalise
from pbx_sms.outbox.model import LogQuery, OutboxRow
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


def parse_delivery(value: str) -> DeliveryStatus:
    shown = shown_delivery_named(value)
    if shown is None:
        expected = ", ".join(status.value for status in SHOWN_DELIVERY_STATUSES)
        fail(f"--delivery: unknown delivery status {value!r} (expected one of: {expected})")
    return shown


def _delivery_cell(row: OutboxRow) -> str | None:
    """The shown status, with the provider's code when it gave one (why it was not delivered)."""
    shown = row.delivery_status
    if shown is None:
        return None
    code = row.delivery.code if row.delivery is not None and shown is not DeliveryStatus.UNKNOWN else None
    return f"{shown.value} ({code})" if code else shown.value


def smslog(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="From this time: 2h, 7d, or ISO 8601.")] = None,
    status: StatusOpt = None,
    number: Annotated[
        str | None, typer.Option("--number", help="Only SMS to this number or about a call with it.")
    ] = None,
    delivery: Annotated[
        str | None,
        typer.Option(
            "--delivery",
            help="Only SMS with this delivery status: delivered, undelivered, expired, rejected, or unknown"
            " (sent, no final report from the provider yet).",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
    json_output: JsonOpt = False,
) -> None:
    """The SMS log: rule, call, recipient, status, delivery, reason, gateway and message id."""
    settings = state(ctx).settings()
    start = parse_since(since, utc_now()) if since else None
    wanted = number
    if number is not None:
        wanted = normalise(number, settings.country)
        if wanted is None:
            fail(f"--number: {number!r} is not a valid phone number (country {settings.country})")
    statuses = parse_statuses(status)
    query = LogQuery(
        statuses=frozenset(statuses) if statuses else None,
        since=start,
        number=wanted,
        limit=limit,
        delivery=parse_delivery(delivery) if delivery is not None else None,
    )
    with opened_database(ctx) as database:
        rows = SqlOutbox(database.engine).log(query)
    if json_output:
        print_json([row.to_json() for row in rows])
        return
    print_table(
        ["ID", "CREATED", "STATUS", "DELIVERY", "TO", "RULE", "CALL", "PARTS", "GATEWAY", "MESSAGE ID", "REASON"],
        [
            (
                row.id,
                row.created_at.isoformat(timespec="seconds"),
                row.status.value,
                _delivery_cell(row),
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
