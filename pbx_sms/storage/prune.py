"""Housekeeping: delete old call-log rows and finished SMS, in short batches.

Only what no longer matters goes: calls already matched against the rules, and SMS that are sent,
failed, suppressed or cancelled — never queued or sending ones. Each batch is its own short
transaction (on SQLite a ``BEGIN IMMEDIATE`` of a few hundred rows), so the running daemon and the
AGI hook wait milliseconds, not for the whole clean-up. The SMS log is also the memory of the rules'
``min_interval_s`` and of the daily caps: ``minimum_age`` says how much of it must stay.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, delete, func, select

from pbx_sms.core.sms_status import FINAL_STATUSES, PENDING_STATUSES
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.config_tables import RuleRow
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION
from pbx_sms.db.outbox_table import outbox_table

# A daily cap counts the SMS of the account's local day (up to 25 hours on a DST day) from the log.
MIN_AGE = timedelta(days=2)
DEFAULT_BATCH_SIZE = 500

_AGE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}

outbox = outbox_table
calls = calls_table


# Older than any stored row can be, and far from the earliest date a cutoff can have (0001-01-01).
MAX_AGE = timedelta(days=36_525)


def parse_age(text: str) -> timedelta:
    """``90d``, ``12w``, ``36h``, ``90m`` → a timedelta; ValueError saying what was expected."""
    match = _AGE.match(text)
    if match is None:
        raise ValueError(f"expected an age like 90d (days), 12w (weeks), 36h (hours) or 90m (minutes), got {text!r}")
    try:
        age = int(match.group(1)) * _UNITS[match.group(2)]
    except OverflowError:
        age = MAX_AGE + timedelta(days=1)
    if age > MAX_AGE:
        raise ValueError(f"{text!r} is longer than {MAX_AGE.days}d (100 years): nothing is that old")
    return age


def format_age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for suffix, unit_s in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % unit_s == 0:
            return f"{seconds // unit_s}{suffix}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class MinimumAge:
    age: timedelta
    why: str


def minimum_age(engine: Engine) -> MinimumAge:
    """The shortest age a prune may keep: the longest ``min_interval_s`` of any rule (also disabled ones,
    and of SMS still waiting), or ``MIN_AGE`` for the daily caps, whichever is longer."""
    with engine.connect() as conn:
        longest_rule = conn.execute(
            select(RuleRow.min_interval_s, RuleRow.name).order_by(RuleRow.min_interval_s.desc()).limit(1)
        ).first()
        longest_pending = conn.execute(
            select(func.max(outbox.c.min_interval_s)).where(
                outbox.c.status.in_(sorted(status.value for status in PENDING_STATUSES))
            )
        ).scalar()
    best = MinimumAge(MIN_AGE, f"the daily caps count the SMS of the last day from the SMS log ({format_age(MIN_AGE)})")
    if longest_rule is not None and timedelta(seconds=longest_rule.min_interval_s) > best.age:
        age = timedelta(seconds=longest_rule.min_interval_s)
        best = MinimumAge(
            age,
            f"rule {longest_rule.name!r} has min_interval_s {longest_rule.min_interval_s} ({format_age(age)}), "
            "and the SMS log is how it knows when it last texted a number",
        )
    if longest_pending is not None and timedelta(seconds=longest_pending) > best.age:
        age = timedelta(seconds=longest_pending)
        best = MinimumAge(
            age,
            f"a queued SMS has min_interval_s {longest_pending} ({format_age(age)}), "
            "and the SMS log is how it knows when its rule last texted the number",
        )
    return best


@dataclass(frozen=True, slots=True)
class PruneCounts:
    calls: int = 0
    sms: int = 0


def _old_sms(cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
    return (outbox.c.status.in_(sorted(FINAL_STATUSES)), outbox.c.updated_at < cutoff)


def _old_calls(cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
    # Unprocessed calls (processed_at NULL) are work still to do, whatever their age.
    return (calls.c.processed_at < cutoff,)


def count_prunable(engine: Engine, cutoff: datetime) -> PruneCounts:
    with engine.connect() as conn:
        sms = conn.execute(select(func.count()).select_from(outbox).where(*_old_sms(cutoff))).scalar_one()
        old_calls = conn.execute(select(func.count()).select_from(calls).where(*_old_calls(cutoff))).scalar_one()
    return PruneCounts(calls=old_calls, sms=sms)


def prune(
    engine: Engine, cutoff: datetime, *, batch_size: int = DEFAULT_BATCH_SIZE, pause_s: float = 0.02
) -> PruneCounts:
    """Delete calls processed and finished SMS last changed before ``cutoff``; returns how many went."""
    if batch_size < 1:
        raise ValueError("batch_size: expected at least 1")
    write = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    # The conditions are repeated outside the sub-select: a row changed meanwhile (an SMS retried by an
    # admin) is re-checked by PostgreSQL when it locks it, and then kept.
    statements = {
        "sms": delete(outbox).where(
            outbox.c.id.in_(select(outbox.c.id).where(*_old_sms(cutoff)).limit(batch_size)), *_old_sms(cutoff)
        ),
        "calls": delete(calls).where(
            calls.c.call_id.in_(select(calls.c.call_id).where(*_old_calls(cutoff)).limit(batch_size)),
            *_old_calls(cutoff),
        ),
    }
    deleted = {"sms": 0, "calls": 0}
    for kind, statement in statements.items():
        while True:
            with write.begin() as conn:
                count = conn.execute(statement).rowcount
            deleted[kind] += count
            if count < batch_size:
                break
            # Let the daemon's writers in between batches (SQLite has one writer at a time).
            time.sleep(pause_s)
    return PruneCounts(calls=deleted["calls"], sms=deleted["sms"])
