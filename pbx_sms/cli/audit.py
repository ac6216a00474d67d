"""``pbx-sms audit``: who changed what and when (rules, accounts, numbers, senders, opt-outs, users, tokens)."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.cli.db import print_json, print_table, read_session
from pbx_sms.cli.smslog import parse_since
from pbx_sms.core.clock import utc_now
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.audit import ENTITIES
from pbx_sms.storage.audit_entries import DEFAULT_LIMIT, MAX_LIMIT, AuditEntry, AuditQuery, check_entity, list_entries
from pbx_sms.storage.errors import NotFound

MAX_DAYS = 36_500  # a century: more is "everything", and would overflow a date


def audit(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account's entries (also of a removed account).")
    ] = None,
    entity: Annotated[str | None, typer.Option("--entity", help=f"Only changes of: {', '.join(ENTITIES)}.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this time: 2h, 7d, or ISO 8601.")] = None,
    days: Annotated[int | None, typer.Option("--days", min=1, max=MAX_DAYS, help="From this many days ago.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_LIMIT, help="At most this many, newest first.")
    ] = DEFAULT_LIMIT,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (times in UTC) for scripts.")] = False,
) -> None:
    """The audit log, newest first: when, who (web:USER, cli:USER), which account, what, and how it changed."""
    if since is not None and days is not None:
        fail("--since and --days: give one of them")
    now = utc_now()
    start = parse_since(since, now) if since is not None else None
    if days is not None:
        start = now - timedelta(days=days)
    settings = state(ctx).settings()
    with read_session(ctx) as session:
        query = AuditQuery(
            account_name=account,
            entities=None if entity is None else [check_entity(entity)],
            since=start,
            limit=limit,
        )
        entries = list_entries(session, query)
        zone = settings.timezone
        if account is not None:
            with suppress(NotFound):  # a removed account: its history is shown in the configured zone
                zone = get_account(session, account).timezone
    if json_output:
        print_json([entry.to_json() for entry in entries])
        return
    tz = ZoneInfo(zone)
    print_table(
        ["ID", f"AT ({zone})", "ACTOR", "ACCOUNT", "ENTITY", "KEY", "ACTION", "CHANGES"],
        [
            (
                entry.id,
                _local(entry.at, tz),
                entry.actor,
                entry.account,
                entry.entity,
                entry.key,
                entry.action,
                describe_changes(entry) or None,
            )
            for entry in entries
        ],
    )


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def describe_changes(entry: AuditEntry) -> str:
    """``daily_cap: 200 → 5; when.status: ["busy"] → ["busy", "no_answer"]`` (values as JSON)."""
    return "; ".join(f"{path}: {_shown(old)} → {_shown(new)}" for path, old, new in entry.changes())


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
