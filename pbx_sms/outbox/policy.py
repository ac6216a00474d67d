"""Send-time limits (pure): SMS service switch, opt-outs, daily cap, minimum interval per other party,
and the account's quiet hours.

The same decision runs when an SMS is queued and again when a worker claims it. A store feeds it the
facts from its own transaction; ``Gate`` counts what it approves within one batch, so a batch of
claims cannot overshoot a cap that each row alone would respect. Quiet hours come first and never
suppress: ``quiet_hold`` says until when an SMS waits, and the gate then decides at that time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.schedule import zone
from pbx_sms.outbox.model import Reason

log = logging.getLogger(__name__)
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


@dataclass(frozen=True, slots=True)
class AccountLimits:
    sms_enabled: bool = True
    daily_cap: int | None = None
    timezone: str = "UTC"
    quiet_hours: QuietHours | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """An SMS that may not go out at the time asked: it waits ``until`` (the end of the quiet hours)."""

    until: datetime
    note: str


def quiet_hold(limits: AccountLimits, at: datetime) -> Hold | None:
    """None when an SMS of the account may go out at ``at``; else until when it waits, and why (for the log)."""
    if limits.quiet_hours is None:
        return None
    until = limits.quiet_hours.next_allowed(at, limits.timezone)
    if until <= at:
        return None
    tz = zone(limits.timezone)
    note = (
        f"quiet hours {limits.quiet_hours} ({limits.timezone}): held from "
        f"{at.astimezone(tz).isoformat(timespec='minutes')} until {until.astimezone(tz).isoformat(timespec='minutes')}"
    )
    return Hold(until, note)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An SMS about to be queued or sent at ``at``."""

    account_id: int
    rule_id: int
    to: str
    to_other_party: bool
    min_interval_s: int
    at: datetime


class Facts(Protocol):
    """What the store knows, read inside the transaction that queues or claims."""

    def limits(self, account_id: int) -> AccountLimits: ...

    def opted_out(self, account_id: int, number: str) -> bool: ...

    def sent_between(self, account_id: int, start: datetime, end: datetime) -> int:
        """SMS of the account sent (or being sent) in [start, end)."""
        ...

    def last_sent_at(self, rule_id: int, to: str) -> datetime | None:
        """When this rule last sent (or started sending) to this other-party number."""
        ...


def local_day_bounds(at: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The account-local calendar day that contains ``at``, as aware datetimes (23 or 25 h on DST days)."""
    zone = ZoneInfo(timezone)
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def within_min_interval(last_sent_at: datetime | None, min_interval_s: int, at: datetime) -> bool:
    return last_sent_at is not None and min_interval_s > 0 and (at - last_sent_at).total_seconds() < min_interval_s


class Gate:
    """Decides a batch of candidates in order. ``reserve`` = approved ones count as sent from now on."""

    def __init__(self, facts: Facts, *, reserve: bool) -> None:
        self._facts = facts
        self._reserve = reserve
        self._day_counts: dict[tuple[int, datetime], int] = {}
        self._last_sent: dict[tuple[int, str], datetime] = {}

    def decide(self, candidate: Candidate) -> str | None:
        """None = may go; else the suppression reason."""
        limits = self._facts.limits(candidate.account_id)
        if not limits.sms_enabled:
            return Reason.SERVICE_INACTIVE
        if self._facts.opted_out(candidate.account_id, candidate.to):
            return Reason.OPTED_OUT
        day_key: tuple[int, datetime] | None = None
        if limits.daily_cap is not None:
            start, end = local_day_bounds(candidate.at, limits.timezone)
            day_key = (candidate.account_id, start)
            if day_key not in self._day_counts:
                self._day_counts[day_key] = self._facts.sent_between(candidate.account_id, start, end)
            if self._day_counts[day_key] >= limits.daily_cap:
                return Reason.DAILY_CAP
        party_key: tuple[int, str] | None = None
        # The interval protects the other party; fixed recipients (a manager's mobile) are not throttled.
        if candidate.to_other_party and candidate.min_interval_s > 0:
            party_key = (candidate.rule_id, candidate.to)
            last = self._last_sent.get(party_key) or self._facts.last_sent_at(*party_key)
            if within_min_interval(last, candidate.min_interval_s, candidate.at):
                return Reason.MIN_INTERVAL
        if self._reserve:
            if day_key is not None:
                self._day_counts[day_key] += 1
            if party_key is not None:
                self._last_sent[party_key] = candidate.at
        return None

    def decide_all(self, candidates: Sequence[Candidate]) -> list[str | None]:
        return [self.decide(candidate) for candidate in candidates]
