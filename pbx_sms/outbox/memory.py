"""In-memory outbox: the contract of ``OutboxStore`` without a database (tests, dry runs)."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.model import (
    EnqueueReport,
    Failed,
    NewSms,
    OutboxError,
    OutboxRow,
    Outcome,
    Reason,
    Released,
    RetryLater,
    Sent,
)
from pbx_sms.outbox.policy import AccountLimits, Candidate, Gate, quiet_hold

log = logging.getLogger(__name__)
_COUNTED = (Status.SENT, Status.SENDING)


class MemoryOutbox:
    def __init__(self) -> None:
        self._rows: dict[int, OutboxRow] = {}
        self._keys: set[tuple[int, str, str]] = set()
        self._limits: dict[int, AccountLimits] = {}
        self._optouts: set[tuple[int | None, str]] = set()
        self._next_id = 1
        self._lock = threading.Lock()

    # The configuration the SQL store reads from the accounts/optouts tables.

    def set_limits(self, account_id: int, limits: AccountLimits) -> None:
        self._limits[account_id] = limits

    def add_optout(self, number: str, account_id: int | None = None) -> None:
        self._optouts.add((account_id, number))

    # Facts for the gate.

    def limits(self, account_id: int) -> AccountLimits:
        return self._limits.get(account_id, AccountLimits())

    def opted_out(self, account_id: int, number: str) -> bool:
        return (account_id, number) in self._optouts or (None, number) in self._optouts

    def sent_between(self, account_id: int, start: datetime, end: datetime) -> int:
        return sum(
            1
            for row in self._rows.values()
            if row.account_id == account_id
            and row.status in _COUNTED
            and row.last_attempt_at is not None
            and start <= row.last_attempt_at < end
        )

    def last_sent_at(self, rule_id: int, to: str) -> datetime | None:
        times = [
            row.last_attempt_at
            for row in self._rows.values()
            if row.rule_id == rule_id
            and row.to == to
            and row.to_other_party
            and row.status in _COUNTED
            and row.last_attempt_at is not None
        ]
        return max(times, default=None)

    # The port.

    def enqueue(self, items: Sequence[NewSms], now: datetime) -> EnqueueReport:
        queued: list[int] = []
        suppressed: list[tuple[int, str]] = []
        held: list[tuple[int, datetime]] = []
        duplicates = 0
        with self._lock:
            gate = Gate(self, reserve=False)
            for item in items:
                key = (item.rule_id, item.call_id, item.to)
                if key in self._keys:
                    duplicates += 1
                    continue
                # Quiet hours move the send time; the limits are then those of the time it will go out.
                at = max(item.due_at, now)
                hold = None if item.reason else quiet_hold(self.limits(item.account_id), at)
                reason = item.reason or gate.decide(_candidate(item, hold.until if hold else at))
                row = self._new_row(item, now, Status.SUPPRESSED if reason else Status.QUEUED, reason)
                if hold is not None and not reason:
                    row = replace(row, due_at=hold.until, scheduled_at=hold.until, note=hold.note)
                    held.append((row.id, hold.until))
                self._keys.add(key)
                self._rows[row.id] = row
                (suppressed.append((row.id, reason)) if reason else queued.append(row.id))
        return EnqueueReport(tuple(queued), tuple(suppressed), duplicates, held=tuple(held))

    def _new_row(self, item: NewSms, now: datetime, status: Status, reason: str | None) -> OutboxRow:
        row_id = self._next_id
        self._next_id += 1
        return OutboxRow(
            id=row_id,
            idempotency_key=str(uuid.uuid4()),
            account_id=item.account_id,
            rule_id=item.rule_id,
            rule_name=item.rule_name,
            call_id=item.call_id,
            other_party=item.other_party,
            call_ended_at=item.call_ended_at,
            to=item.to,
            sender=item.sender,
            text=item.text,
            encoding=item.encoding,
            parts=item.parts,
            to_other_party=item.to_other_party,
            min_interval_s=item.min_interval_s,
            cancel_on_reach=item.cancel_on_reach,
            status=status,
            reason=reason,
            scheduled_at=item.due_at,
            due_at=item.due_at,
            attempts=0,
            locked_by=None,
            locked_until=None,
            last_attempt_at=None,
            last_error=None,
            gateway=None,
            message_id=None,
            created_at=now,
            updated_at=now,
        )

    def cancel_reached(self, account_id: int, other_party: str, call_id: str, reached_at: datetime) -> int:
        count = 0
        with self._lock:
            for row in list(self._rows.values()):
                if (
                    row.status == Status.QUEUED
                    and row.cancel_on_reach
                    and row.account_id == account_id
                    and row.other_party == other_party
                    and row.call_id != call_id
                    and row.call_ended_at <= reached_at
                ):
                    self._rows[row.id] = replace(
                        row, status=Status.CANCELLED, reason=Reason.REACHED_PERSON, updated_at=reached_at
                    )
                    count += 1
        return count

    def claim_due(self, worker_id: str, now: datetime, limit: int, lease_s: float) -> list[OutboxRow]:
        claimed: list[OutboxRow] = []
        with self._lock:
            due = sorted(
                (
                    row
                    for row in self._rows.values()
                    if (row.status == Status.QUEUED and row.due_at <= now)
                    or (row.status == Status.SENDING and row.locked_until is not None and row.locked_until <= now)
                ),
                key=lambda row: (row.due_at, row.id),
            )
            gate = Gate(self, reserve=True)
            lease_until = now + timedelta(seconds=lease_s)
            for row in due:
                if len(claimed) >= limit:
                    break
                # Due, but inside quiet hours now (a retry, a restart): wait for their end, no attempt used.
                hold = quiet_hold(self.limits(row.account_id), now)
                if hold is not None:
                    self._rows[row.id] = replace(
                        row,
                        status=Status.QUEUED,
                        due_at=hold.until,
                        note=hold.note,
                        locked_by=None,
                        locked_until=None,
                        updated_at=now,
                    )
                    log.info("SMS %d not sent now: %s", row.id, hold.note)
                    continue
                # A row whose lease expired was already let through; only fresh claims meet the limits.
                reason = gate.decide(_candidate(row, now)) if row.status == Status.QUEUED else None
                if reason:
                    self._rows[row.id] = replace(row, status=Status.SUPPRESSED, reason=reason, updated_at=now)
                    log.info("SMS %d to %s suppressed when due (%s)", row.id, row.to, reason)
                    continue
                leased = replace(
                    row,
                    status=Status.SENDING,
                    attempts=row.attempts + 1,
                    locked_by=worker_id,
                    locked_until=lease_until,
                    last_attempt_at=now,
                    updated_at=now,
                )
                self._rows[row.id] = leased
                claimed.append(leased)
        return claimed

    def apply(self, worker_id: str, outcomes: Iterable[Outcome], now: datetime) -> int:
        applied = 0
        with self._lock:
            for outcome in outcomes:
                row = self._rows.get(outcome.row_id)
                if row is None or row.status != Status.SENDING or row.locked_by != worker_id:
                    continue
                self._rows[row.id] = _applied(row, outcome, now)
                applied += 1
        return applied

    def next_due_at(self) -> datetime | None:
        with self._lock:
            times = [row.due_at for row in self._rows.values() if row.status == Status.QUEUED]
            times += [
                row.locked_until
                for row in self._rows.values()
                if row.status == Status.SENDING and row.locked_until is not None
            ]
        return min(times, default=None)

    def get(self, row_id: int) -> OutboxRow | None:
        with self._lock:
            return self._rows.get(row_id)

    def list(
        self,
        *,
        statuses: Iterable[Status] | None = None,
        since: datetime | None = None,
        number: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxRow]:
        wanted = set(statuses) if statuses is not None else None
        with self._lock:
            snapshot = list(self._rows.values())
        rows = [
            row
            for row in snapshot
            if (wanted is None or row.status in wanted)
            and (since is None or row.created_at >= since)
            and (number is None or number in (row.to, row.other_party))
        ]
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
        return rows[:limit] if limit is not None else rows

    def retry(self, row_id: int, now: datetime) -> OutboxRow:
        with self._lock:
            row = self._require(row_id)
            if row.status not in (Status.FAILED, Status.SUPPRESSED, Status.CANCELLED):
                raise OutboxError(
                    f"SMS {row_id} is {row.status}; only failed, suppressed or cancelled SMS can be retried"
                )
            queued = replace(
                row, status=Status.QUEUED, reason=None, due_at=now, scheduled_at=now, attempts=0, updated_at=now
            )
            self._rows[row_id] = queued
            return queued

    def cancel(self, row_id: int, now: datetime, reason: str = Reason.CANCELLED_BY_ADMIN) -> OutboxRow:
        with self._lock:
            row = self._require(row_id)
            if row.status != Status.QUEUED:
                raise OutboxError(f"SMS {row_id} is {row.status}; only queued SMS can be cancelled")
            cancelled = replace(row, status=Status.CANCELLED, reason=reason, updated_at=now)
            self._rows[row_id] = cancelled
            return cancelled

    def cancel_rule(self, rule_id: int, now: datetime) -> int:
        with self._lock:
            ids = [row.id for row in self._rows.values() if row.rule_id == rule_id and row.status == Status.QUEUED]
            for row_id in ids:
                self._rows[row_id] = replace(
                    self._rows[row_id], status=Status.CANCELLED, reason=Reason.RULE_DELETED, updated_at=now
                )
        return len(ids)

    def _require(self, row_id: int) -> OutboxRow:
        row = self._rows.get(row_id)
        if row is None:
            raise OutboxError(f"no SMS with id {row_id} in the outbox")
        return row


def _candidate(item: NewSms | OutboxRow, at: datetime) -> Candidate:
    return Candidate(item.account_id, item.rule_id, item.to, item.to_other_party, item.min_interval_s, at)


def _applied(row: OutboxRow, outcome: Outcome, now: datetime) -> OutboxRow:
    unlocked = replace(row, locked_by=None, locked_until=None, updated_at=now)
    if isinstance(outcome, Sent):
        return replace(unlocked, status=Status.SENT, gateway=outcome.gateway, message_id=outcome.message_id)
    if isinstance(outcome, RetryLater):
        return replace(unlocked, status=Status.QUEUED, due_at=outcome.due_at, last_error=outcome.error)
    if isinstance(outcome, Failed):
        return replace(unlocked, status=Status.FAILED, reason=outcome.reason)
    if isinstance(outcome, Released):
        return replace(unlocked, status=Status.QUEUED, due_at=now, attempts=unlocked.attempts - 1)
    raise TypeError(f"unknown outcome {outcome!r}")
