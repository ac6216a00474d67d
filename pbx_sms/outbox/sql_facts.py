"""What the outbox decisions need to know, read from SQL inside the caller's transaction."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, and_, case, func, null, or_, select, tuple_

from pbx_sms.db.config_tables import Account, OptOut
from pbx_sms.outbox.decisions import AccountLimits, DayWindow, IntervalKey
from pbx_sms.outbox.rows import LockedAccounts
from pbx_sms.outbox.sql_rows import COUNTED, as_utc, t
from pbx_sms.storage.accounts import stored_quiet_hours

log = logging.getLogger(__name__)
_accounts = cast(Table, Account.__table__)
_optouts = cast(Table, OptOut.__table__)
_reported_bad_zones: set[str] = set()


def usable_timezone(name: str) -> str:
    """``name`` when it is a known IANA zone; else UTC, logged once: an account hand-edited into an
    unknown zone must not stop the worker from sending every other account's SMS."""
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        if name not in _reported_bad_zones:
            _reported_bad_zones.add(name)
            log.error("account time zone %r is unknown; its caps and quiet hours use UTC until it is fixed", name)
        return "UTC"
    return name


def lock_accounts(conn: Connection, account_ids: Collection[int], *, wait: bool) -> LockedAccounts:
    """The accounts' limits, their rows locked (FOR UPDATE, in id order) until the transaction ends.
    Without ``wait``, accounts another transaction holds are skipped and reported busy."""
    if not account_ids:
        return LockedAccounts({})
    ids = sorted(account_ids)
    rows = conn.execute(
        select(_accounts.c.id, _accounts.c.sms_enabled, _accounts.c.daily_cap, _accounts.c.timezone)
        .add_columns(_accounts.c.quiet_hours)
        .where(_accounts.c.id.in_(ids))
        .order_by(_accounts.c.id)
        .with_for_update(skip_locked=not wait)
    ).all()
    limits = {
        row.id: AccountLimits(
            bool(row.sms_enabled), row.daily_cap, usable_timezone(row.timezone), stored_quiet_hours(row.quiet_hours)
        )
        for row in rows
    }
    missing = [account_id for account_id in ids if account_id not in limits]
    if wait or not missing:
        return LockedAccounts(limits)
    # Skipped: held by another transaction, or gone (whose SMS are then suppressed).
    present = conn.execute(select(_accounts.c.id).where(_accounts.c.id.in_(missing))).scalars()
    return LockedAccounts(limits, frozenset(present))


def opted_out(conn: Connection, numbers: Collection[str]) -> frozenset[tuple[int | None, str]]:
    query = select(_optouts.c.account_id, _optouts.c.e164).where(_optouts.c.e164.in_(sorted(numbers)))
    return frozenset((row.account_id, row.e164) for row in conn.execute(query))


def sent_in(conn: Connection, days: Collection[DayWindow]) -> dict[DayWindow, int]:
    return {
        day: conn.execute(
            select(func.count())
            .select_from(t)
            .where(
                t.c.account_id == day.account_id,
                t.c.status.in_(COUNTED),
                t.c.last_attempt_at >= day.start,
                t.c.last_attempt_at < day.end,
            )
        ).scalar_one()
        for day in days
    }


def last_sent_at(conn: Connection, keys: Collection[IntervalKey]) -> dict[IntervalKey, datetime]:
    """Per ``interval_key``: SMS to the other party are keyed by (rule, recipient), those to a fixed
    recipient by (rule, recipient, other party)."""
    to_party = sorted({(rule_id, to) for rule_id, to, caller in keys if caller is None})
    to_fixed = sorted((rule_id, to, caller) for rule_id, to, caller in keys if caller is not None)
    wanted = []
    if to_party:
        wanted.append(and_(t.c.to_other_party.is_(True), tuple_(t.c.rule_id, t.c.recipient).in_(to_party)))
    if to_fixed:
        wanted.append(
            and_(t.c.to_other_party.is_(False), tuple_(t.c.rule_id, t.c.recipient, t.c.other_party).in_(to_fixed))
        )
    if not wanted:
        return {}
    caller = case((t.c.to_other_party.is_(True), null()), else_=t.c.other_party)
    rows = conn.execute(
        select(t.c.rule_id, t.c.recipient, caller.label("caller"), func.max(t.c.last_attempt_at).label("last"))
        .where(or_(*wanted), t.c.status.in_(COUNTED))
        .group_by(t.c.rule_id, t.c.recipient, caller)
    )
    return {(row.rule_id, row.recipient, row.caller): as_utc(row.last) for row in rows if row.last is not None}
