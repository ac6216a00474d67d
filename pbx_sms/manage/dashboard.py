"""What an account's dashboard shows, read from the call log and the outbox: today's calls and SMS by
status (the account's "today"), its recent errors, and calls and SMS per hour over the last days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pbx_sms.core.sms_status import Status
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.manage.hourly import HOUR, count_per_hour, hour_starts, today_window
from pbx_sms.outbox.flow import Outbox
from pbx_sms.outbox.model import LogQuery, OutboxRow

CHART_DAYS = 7
RECENT_ERRORS = 10
# What needs a look: an SMS that did not go out, or may have gone out (a decision waits for an operator).
ERROR_STATUSES = frozenset({Status.FAILED, Status.UNCLEAR})


@dataclass(frozen=True, slots=True)
class Today:
    start: datetime
    end: datetime
    calls_by_status: dict[str, int]  # the call log's statuses: answered, no_answer, busy, failed
    sms_by_status: dict[Status, int]


@dataclass(frozen=True, slots=True)
class HourlySeries:
    hour_starts: list[datetime]  # UTC
    calls: list[int]
    sms: list[int]


def today_counts(session: Session, account_id: int, account_name: str, now: datetime, zone: ZoneInfo) -> Today:
    """The account's calls (by when they ended) and SMS (by when they were planned) of its local today."""
    start, end = today_window(now, zone)
    calls, sms = calls_table, outbox_table
    call_rows = session.execute(
        select(calls.c.status, func.count())
        .where(calls.c.account == account_name, calls.c.ended_at >= start, calls.c.ended_at < end)
        .group_by(calls.c.status)
    )
    sms_by_status = dict.fromkeys(Status, 0)
    for status, count in session.execute(
        select(sms.c.status, func.count())
        .where(sms.c.account_id == account_id, sms.c.created_at >= start, sms.c.created_at < end)
        .group_by(sms.c.status)
    ):
        sms_by_status[Status(status)] = count
    return Today(start, end, {status: count for status, count in call_rows}, sms_by_status)


def hourly_series(
    session: Session, account_id: int, account_name: str, now: datetime, zone: ZoneInfo, days: int = CHART_DAYS
) -> HourlySeries:
    """Calls and SMS per local hour over the last ``days`` days (today included). Only the times are read
    and counted here: one bucketing (manage.hourly) for every database, in the account's time zone."""
    starts = hour_starts(now, zone, days)
    end = starts[-1] + HOUR
    calls, sms = calls_table, outbox_table
    call_times = session.scalars(
        select(calls.c.ended_at).where(
            calls.c.account == account_name, calls.c.ended_at >= starts[0], calls.c.ended_at < end
        )
    )
    sms_times = session.scalars(
        select(sms.c.created_at).where(
            sms.c.account_id == account_id, sms.c.created_at >= starts[0], sms.c.created_at < end
        )
    )
    return HourlySeries(starts, count_per_hour(starts, call_times), count_per_hour(starts, sms_times))


def recent_errors(outbox: Outbox, account_id: int, limit: int = RECENT_ERRORS) -> list[OutboxRow]:
    """The account's latest failed or unclear SMS, newest first (the SMS log's own query)."""
    return outbox.log(LogQuery(statuses=ERROR_STATUSES, account_id=account_id, limit=limit))
