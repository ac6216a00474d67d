"""The outbox's decisions (pure): facts in, a plan of row changes out; no I/O and no clock of its own.

What happens to an SMS when it is queued (held by quiet hours, suppressed by the limits, or queued),
when it is due (held, suppressed, or leased to a worker), when its other party is reached, and when an
admin retries or cancels it. A store reads the facts inside its own transaction, in two steps (the
accounts first, then what the planner asks about them), and writes the plan it gets back; it decides
nothing itself (``pbx_sms.outbox.flow`` does this for every store).

Limits, in this order, the first that applies giving the reason: the account's SMS service, opt-outs,
the daily cap (SMS sent, being sent or unclear in the account's local day), the minimum interval per
rule, recipient and caller. Quiet hours come first and never suppress: the SMS waits for their end, and
the limits are those of the time it will go out. Claims are decided in ``pbx_sms.outbox.claiming``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.core.reasons import Reason
from pbx_sms.core.schedule import zone
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.model import EnqueueReport, NewSms, OutboxError


@dataclass(frozen=True, slots=True)
class AccountLimits:
    sms_enabled: bool = True
    daily_cap: int | None = None
    timezone: str = "UTC"
    quiet_hours: QuietHours | None = None


# An account row that is gone (removed while SMS were queued): nothing more goes out for it.
MISSING_ACCOUNT = AccountLimits(sms_enabled=False)


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


# --- the limits ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """An SMS about to be queued or sent at ``at``."""

    account_id: int
    rule_id: int
    to: str
    to_other_party: bool
    min_interval_s: int
    at: datetime
    # The call's other party: a fixed recipient (a manager) hears of each caller once per interval.
    other_party: str = ""


@dataclass(frozen=True, slots=True)
class DayWindow:
    """An account's local calendar day, [start, end): the SMS sent in it count toward the daily cap."""

    account_id: int
    start: datetime
    end: datetime


# (rule id, recipient, caller): the minimum interval applies per rule, recipient and caller. For an SMS
# to the other party the recipient is the caller (caller None); for a fixed recipient (a manager's mobile)
# the caller is the call's other party as stored, so the manager hears of each caller once per interval.
IntervalKey = tuple[int, str, str | None]


def interval_key(rule_id: int, to: str, to_other_party: bool, other_party: str) -> IntervalKey:
    return (rule_id, to, None if to_other_party else other_party)


@dataclass(frozen=True, slots=True)
class Questions:
    """What a planner needs to know besides the accounts: the store answers them as ``Facts``."""

    numbers: frozenset[str] = frozenset()
    days: frozenset[DayWindow] = frozenset()
    intervals: frozenset[IntervalKey] = frozenset()


@dataclass(frozen=True, slots=True)
class Facts:
    """The answers, read in the transaction that queues or claims. ``limits`` lacks accounts that are gone;
    ``opted_out`` holds (account id, number), account None = every account; ``sent`` has every day asked;
    ``last_sent_at`` lacks the keys that never sent (or started sending) anything."""

    limits: Mapping[int, AccountLimits]
    opted_out: frozenset[tuple[int | None, str]] = frozenset()
    sent: Mapping[DayWindow, int] = field(default_factory=dict)
    last_sent_at: Mapping[IntervalKey, datetime] = field(default_factory=dict)

    def limits_of(self, account_id: int) -> AccountLimits:
        return self.limits.get(account_id, MISSING_ACCOUNT)


def local_day(account_id: int, at: datetime, timezone: str) -> DayWindow:
    """The account-local calendar day that contains ``at`` (23 or 25 h on DST days)."""
    tz = zone(timezone)
    day = at.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz)
    return DayWindow(account_id, start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))


def within_min_interval(last_sent_at: datetime | None, min_interval_s: int, at: datetime) -> bool:
    return last_sent_at is not None and min_interval_s > 0 and (at - last_sent_at).total_seconds() < min_interval_s


def _throttled(candidate: Candidate) -> bool:
    return candidate.min_interval_s > 0


def _interval_key(candidate: Candidate) -> IntervalKey:
    return interval_key(candidate.rule_id, candidate.to, candidate.to_other_party, candidate.other_party)


# The rule id of the confirmation sent to a number that just opted out by a reply: no rule has id -1
# (ids start at 1; the backtest uses 0 for unsaved rules). It is the one SMS that number's opt-out of
# that account does not block; a global opt-out still does, and every other limit still applies.
OPTOUT_CONFIRMATION_RULE_ID = -1


def _opted_out(candidate: Candidate, facts: Facts) -> bool:
    if (None, candidate.to) in facts.opted_out:
        return True
    if candidate.rule_id == OPTOUT_CONFIRMATION_RULE_ID:
        return False
    return (candidate.account_id, candidate.to) in facts.opted_out


class Gate:
    """Decides candidates in order. ``reserve``: an approved one counts as sent from then on, so a batch
    of claims cannot overshoot a cap or an interval that each row alone would respect."""

    def __init__(self, *, reserve: bool) -> None:
        self._reserve = reserve
        self._day_counts: dict[DayWindow, int] = {}
        self._last_sent: dict[IntervalKey, datetime] = {}

    def questions(self, candidates: Iterable[Candidate], limits: Mapping[int, AccountLimits]) -> Questions:
        """What ``decide`` will need for ``candidates`` and does not know yet."""
        numbers: set[str] = set()
        days: set[DayWindow] = set()
        intervals: set[IntervalKey] = set()
        for candidate in candidates:
            account = limits.get(candidate.account_id, MISSING_ACCOUNT)
            if not account.sms_enabled:
                continue
            numbers.add(candidate.to)
            if account.daily_cap is not None:
                day = local_day(candidate.account_id, candidate.at, account.timezone)
                if day not in self._day_counts:
                    days.add(day)
            if _throttled(candidate) and _interval_key(candidate) not in self._last_sent:
                intervals.add(_interval_key(candidate))
        return Questions(frozenset(numbers), frozenset(days), frozenset(intervals))

    def decide(self, candidate: Candidate, facts: Facts) -> Reason | None:
        """None = may go; else the suppression reason."""
        limits = facts.limits_of(candidate.account_id)
        if not limits.sms_enabled:
            return Reason.SERVICE_INACTIVE
        if _opted_out(candidate, facts):
            return Reason.OPTED_OUT
        day: DayWindow | None = None
        if limits.daily_cap is not None:
            day = local_day(candidate.account_id, candidate.at, limits.timezone)
            if day not in self._day_counts:
                self._day_counts[day] = facts.sent[day]
            if self._day_counts[day] >= limits.daily_cap:
                return Reason.DAILY_CAP
        key: IntervalKey | None = None
        if _throttled(candidate):
            key = _interval_key(candidate)
            last = self._last_sent.get(key) or facts.last_sent_at.get(key)
            if within_min_interval(last, candidate.min_interval_s, candidate.at):
                return Reason.MIN_INTERVAL
        if self._reserve:
            if day is not None:
                self._day_counts[day] += 1
            if key is not None:
                self._last_sent[key] = candidate.at
        return None


# --- queueing --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewRow:
    """An SMS to insert as decided: queued (``hold`` set: for the end of the quiet hours) or suppressed.
    ``due_at`` is also its ``scheduled_at``: a held SMS's retry age counts from the end of the hold."""

    sms: NewSms
    status: Status
    reason: Reason | None
    due_at: datetime
    hold: Hold | None


class EnqueuePlanner:
    """Queue ``items`` at ``now``: first ``questions`` (with the accounts' limits read), then ``rows``."""

    def __init__(self, items: Sequence[NewSms], limits: Mapping[int, AccountLimits], now: datetime) -> None:
        # Queueing only checks: the SMS are counted when they go out, and checked again then.
        self._gate = Gate(reserve=False)
        self._timed = [_send_time(item, limits.get(item.account_id, MISSING_ACCOUNT), now) for item in items]
        self.questions = self._gate.questions(
            (_candidate(item, at) for item, at, _ in self._timed if item.reason is None), limits
        )

    def rows(self, facts: Facts) -> list[NewRow]:
        rows = []
        for item, at, hold in self._timed:
            reason = item.reason or self._gate.decide(_candidate(item, at), facts)
            if reason is not None:
                rows.append(NewRow(item, Status.SUPPRESSED, reason, item.due_at, None))
            else:
                rows.append(NewRow(item, Status.QUEUED, None, at if hold else item.due_at, hold))
        return rows


def _send_time(item: NewSms, limits: AccountLimits, now: datetime) -> tuple[NewSms, datetime, Hold | None]:
    """When ``item`` would go out: its due time (now, if past), or the end of the quiet hours it falls in.
    SMS the matcher suppressed are never held."""
    at = max(item.due_at, now)
    hold = quiet_hold(limits, at) if item.reason is None else None
    return item, hold.until if hold else at, hold


def _candidate(item: NewSms, at: datetime) -> Candidate:
    return Candidate(
        item.account_id, item.rule_id, item.to, item.to_other_party, item.min_interval_s, at, item.other_party
    )


def enqueue_report(rows: Sequence[NewRow], row_ids: Sequence[int | None]) -> EnqueueReport:
    """What ``rows`` became once inserted; a row id None is a duplicate (same rule, call and recipient)."""
    queued: list[int] = []
    suppressed: list[tuple[int, Reason]] = []
    held: list[tuple[int, datetime]] = []
    for row, row_id in zip(rows, row_ids, strict=True):
        if row_id is None:
            continue
        if row.reason is not None:
            suppressed.append((row_id, row.reason))
            continue
        queued.append(row_id)
        if row.hold is not None:
            held.append((row_id, row.hold.until))
    duplicates = sum(1 for row_id in row_ids if row_id is None)
    return EnqueueReport(tuple(queued), tuple(suppressed), duplicates, held=tuple(held))


# --- cancelling and retrying -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartyRow:
    """A queued row of a call's other party, as far as cancel-on-reach needs it."""

    id: int
    pbx: str
    call_id: str
    call_ended_at: datetime
    cancel_on_reach: bool


def cancelled_on_reach(queued: Iterable[PartyRow], pbx: str, call_id: str, reached_at: datetime) -> list[int]:
    """The call (``pbx``, ``call_id``) reached the other party of ``queued`` at ``reached_at``: which of
    them to cancel (missed-call SMS of earlier calls, on any PBX; the reaching call's own SMS stay)."""
    return [
        row.id
        for row in queued
        if row.cancel_on_reach and (row.pbx, row.call_id) != (pbx, call_id) and row.call_ended_at <= reached_at
    ]


# Unclear: an operator decides that an attempt that may have gone out is sent again.
RETRYABLE: frozenset[Status] = frozenset({Status.FAILED, Status.SUPPRESSED, Status.CANCELLED, Status.UNCLEAR})


def check_retry(row_id: int, status: Status | None) -> None:
    """Only a failed, suppressed, cancelled or unclear SMS can be queued again (raises OutboxError)."""
    _check(row_id, status, RETRYABLE, "only failed, suppressed, cancelled or unclear SMS can be retried")


def check_cancel(row_id: int, status: Status | None) -> None:
    """Only a queued SMS can be cancelled (raises OutboxError)."""
    _check(row_id, status, {Status.QUEUED}, "only queued SMS can be cancelled")


def _check(row_id: int, status: Status | None, allowed: Collection[Status], rule: str) -> None:
    if status is None:
        raise OutboxError(f"no SMS with id {row_id} in the outbox")
    if status not in allowed:
        raise OutboxError(f"SMS {row_id} is {status}; {rule}")
