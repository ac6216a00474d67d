"""The outbox in memory: the test twin of ``SqlOutbox``.

``MemoryRows`` does what the SQL statements of ``SqlRows`` do, on a dict of rows under one lock (the
transaction); every decision is the shared flow's, so the contract tests exercise the same logic.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from pbx_sms.core.delivery import Delivery
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import COUNTS_AS_SENT, Status
from pbx_sms.outbox.claiming import ClaimPlan, DueRow
from pbx_sms.outbox.decisions import AccountLimits, DayWindow, IntervalKey, NewRow, PartyRow, interval_key
from pbx_sms.outbox.flow import Outbox
from pbx_sms.outbox.model import (
    ClaimScope,
    Failed,
    LogQuery,
    NewSms,
    OutboxRow,
    Outcome,
    Released,
    RetryLater,
    Sent,
)
from pbx_sms.outbox.replan import CallRow
from pbx_sms.outbox.rows import LockedAccounts, RowTransaction


class MemoryOutbox(Outbox):
    def __init__(self) -> None:
        self._memory = MemoryRows()
        super().__init__(self._memory)

    # The configuration the SQL store reads from the accounts and optouts tables.

    def set_limits(self, account_id: int, limits: AccountLimits) -> None:
        self._memory.limits[account_id] = limits

    def add_optout(self, number: str, account_id: int | None = None) -> None:
        self._memory.optouts.add((account_id, number))

    # What the SQL store reads from the delivery_reports table (written by storage.delivery_reports).

    def set_delivery(self, gateway: str, message_id: str, delivery: Delivery) -> None:
        self._memory.deliveries[(gateway, message_id)] = delivery


class MemoryRows:
    def __init__(self) -> None:
        self.rows: dict[int, OutboxRow] = {}
        self.limits: dict[int, AccountLimits] = {}
        self.optouts: set[tuple[int | None, str]] = set()
        self.deliveries: dict[tuple[str, str], Delivery] = {}
        self._keys: set[tuple[int, str, str, str]] = set()
        self._next_id = 1
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[RowTransaction]:
        with self._lock:
            yield _MemoryTransaction(self)

    def get(self, row_id: int) -> OutboxRow | None:
        with self._lock:
            row = self.rows.get(row_id)
            return self._logged(row) if row is not None else None

    def list(self, query: LogQuery) -> list[OutboxRow]:
        with self._lock:
            snapshot = [self._logged(row) for row in self.rows.values()]
        rows = [row for row in snapshot if query.admits(row)]
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
        return rows[: query.limit] if query.limit is not None else rows

    def _logged(self, row: OutboxRow) -> OutboxRow:
        """The row with its delivery report, as the SQL store's outer join gives it."""
        if row.gateway is None or row.message_id is None:
            return row
        return replace(row, delivery=self.deliveries.get((row.gateway, row.message_id)))

    def next_due_at(self, scope: ClaimScope | None = None) -> datetime | None:
        with self._lock:
            rows = [row for row in self.rows.values() if scope is None or scope.admits(row.pbx, row.local_to_pbx)]
            times = [row.due_at for row in rows if _waits_for_its_time(row)]
            times += [row.locked_until for row in rows if row.status == Status.SENDING and row.locked_until is not None]
        return min(times, default=None)

    def new_id(self, key: tuple[int, str, str, str]) -> int | None:
        if key in self._keys:
            return None
        self._keys.add(key)
        row_id = self._next_id
        self._next_id += 1
        return row_id


class _MemoryTransaction:
    def __init__(self, memory: MemoryRows) -> None:
        self._memory = memory
        self._rows = memory.rows

    def lock_accounts(self, account_ids: Collection[int], *, wait: bool) -> LockedAccounts:
        limits = self._memory.limits
        return LockedAccounts({account_id: limits[account_id] for account_id in account_ids if account_id in limits})

    def opted_out(self, numbers: Collection[str]) -> frozenset[tuple[int | None, str]]:
        return frozenset(optout for optout in self._memory.optouts if optout[1] in numbers)

    def sent_in(self, days: Collection[DayWindow]) -> dict[DayWindow, int]:
        return {
            day: sum(
                1
                for row in self._rows.values()
                if row.account_id == day.account_id
                and row.status in COUNTS_AS_SENT
                and row.last_attempt_at is not None
                and day.start <= row.last_attempt_at < day.end
            )
            for day in days
        }

    def last_sent_at(self, keys: Collection[IntervalKey]) -> dict[IntervalKey, datetime]:
        last: dict[IntervalKey, datetime] = {}
        for row in self._rows.values():
            key = interval_key(row.rule_id, row.to, row.to_other_party, row.other_party)
            if key in keys and row.status in COUNTS_AS_SENT and row.last_attempt_at is not None:
                last[key] = max(last.get(key, row.last_attempt_at), row.last_attempt_at)
        return last

    def due(self, now: datetime, limit: int, after: DueRow | None, scope: ClaimScope | None = None) -> list[DueRow]:
        due = sorted(
            (
                row
                for row in self._rows.values()
                if (scope is None or scope.admits(row.pbx, row.local_to_pbx))
                and (
                    (_waits_for_its_time(row) and row.due_at <= now)
                    or (row.status == Status.SENDING and row.locked_until is not None and row.locked_until <= now)
                )
            ),
            key=lambda row: (row.due_at, row.id),
        )
        if after is not None:
            due = [row for row in due if (row.due_at, row.id) > (after.due_at, after.id)]
        return [
            DueRow(
                row.id,
                row.status,
                row.due_at,
                row.account_id,
                row.rule_id,
                row.to,
                row.to_other_party,
                row.min_interval_s,
                row.other_party,
                row.last_attempt_at,
                row.unclear_since,
            )
            for row in due[:limit]
        ]

    def queued_of_party(self, account_id: int, other_party: str) -> list[PartyRow]:
        return [
            PartyRow(row.id, row.pbx, row.call_id, row.call_ended_at, row.cancel_on_reach)
            for row in self._rows.values()
            if row.status == Status.QUEUED and row.account_id == account_id and row.other_party == other_party
        ]

    def rows_of_call(self, pbx: str, call_id: str) -> list[CallRow]:
        return [
            CallRow(row.id, row.rule_id, row.to, row.status, row.attempts)
            for row in self._rows.values()
            if row.pbx == pbx and row.call_id == call_id
        ]

    def status_of(self, row_id: int) -> Status | None:
        row = self._rows.get(row_id)
        return row.status if row is not None else None

    def get(self, row_id: int) -> OutboxRow | None:
        return self._rows.get(row_id)

    def insert(self, rows: Sequence[NewRow], now: datetime) -> list[int | None]:
        ids: list[int | None] = []
        for new in rows:
            row_id = self._memory.new_id((new.sms.rule_id, new.sms.pbx, new.sms.call_id, new.sms.to))
            if row_id is not None:
                self._rows[row_id] = _row(row_id, new, now)
            ids.append(row_id)
        return ids

    def write_claim(self, plan: ClaimPlan, worker_id: str, now: datetime, lease_until: datetime) -> list[OutboxRow]:
        for row_id, since in plan.unclear_since.items():
            self._update(row_id, unclear_since=since)
        for due, reason in plan.interrupted:
            self._update(
                due.id, status=Status.UNCLEAR, reason=reason, locked_by=None, locked_until=None, updated_at=now
            )
        for due, hold, status in plan.held:
            self._update(
                due.id,
                status=status,
                due_at=hold.until,
                note=hold.note,
                locked_by=None,
                locked_until=None,
                updated_at=now,
            )
        for due, reason in plan.suppressed:
            self._update(due.id, status=Status.SUPPRESSED, reason=reason, updated_at=now)
        leased = []
        for due in plan.leased:
            row = self._rows[due.id]
            leased.append(
                self._update(
                    due.id,
                    status=Status.SENDING,
                    attempts=row.attempts + 1,
                    locked_by=worker_id,
                    locked_until=lease_until,
                    last_attempt_at=now,
                    updated_at=now,
                )
            )
        return leased

    def cancel(self, row_ids: Collection[int], reason: Reason, now: datetime) -> int:
        queued = [row_id for row_id in row_ids if self._rows[row_id].status == Status.QUEUED]
        for row_id in queued:
            self._update(row_id, status=Status.CANCELLED, reason=reason, updated_at=now)
        return len(queued)

    def rewrite(self, changes: Sequence[tuple[int, NewSms]], now: datetime) -> int:
        queued = [(row_id, sms) for row_id, sms in changes if self._rows[row_id].status == Status.QUEUED]
        for row_id, sms in queued:
            self._update(
                row_id, text=sms.text, sender=sms.sender, encoding=sms.encoding, parts=sms.parts, updated_at=now
            )
        return len(queued)

    def requeue(self, row_id: int, now: datetime) -> None:
        self._update(
            row_id,
            status=Status.QUEUED,
            reason=None,
            due_at=now,
            scheduled_at=now,
            attempts=0,
            unclear_since=None,
            updated_at=now,
        )

    def apply(self, worker_id: str, outcomes: Sequence[Outcome], now: datetime) -> int:
        applied = 0
        for outcome in outcomes:
            row = self._rows.get(outcome.row_id)
            if row is None or row.status != Status.SENDING or row.locked_by != worker_id:
                continue
            self._rows[row.id] = _applied(replace(row, locked_by=None, locked_until=None, updated_at=now), outcome, now)
            applied += 1
        return applied

    def wake_workers(self) -> None:
        """Nothing to do: the worker of this process is woken by its caller."""

    def _update(self, row_id: int, **values: Any) -> OutboxRow:
        row = self._rows[row_id] = replace(self._rows[row_id], **values)
        return row


def _waits_for_its_time(row: OutboxRow) -> bool:
    """Claimable once due: queued, or unclear and left to the worker (no reason: not held for an operator)."""
    return row.status == Status.QUEUED or (row.status == Status.UNCLEAR and row.reason is None)


def _applied(row: OutboxRow, outcome: Outcome, now: datetime) -> OutboxRow:
    if isinstance(outcome, Sent):
        return replace(row, status=Status.SENT, gateway=outcome.gateway, message_id=outcome.message_id)
    if isinstance(outcome, RetryLater):
        return replace(
            row,
            status=outcome.status,
            due_at=outcome.due_at,
            last_error=outcome.error,
            unclear_since=outcome.unclear_since,
        )
    if isinstance(outcome, Failed):
        return replace(row, status=Status.FAILED, reason=outcome.reason)
    if isinstance(outcome, Released):
        return replace(
            row, status=outcome.status, due_at=now, attempts=row.attempts - 1, unclear_since=outcome.unclear_since
        )
    raise TypeError(f"unknown outcome {outcome!r}")


def _row(row_id: int, new: NewRow, now: datetime) -> OutboxRow:
    item = new.sms
    return OutboxRow(
        id=row_id,
        idempotency_key=str(uuid.uuid4()),
        account_id=item.account_id,
        rule_id=item.rule_id,
        rule_name=item.rule_name,
        pbx=item.pbx,
        local_to_pbx=item.local_to_pbx,
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
        status=new.status,
        reason=new.reason,
        scheduled_at=new.due_at,
        due_at=new.due_at,
        attempts=0,
        locked_by=None,
        locked_until=None,
        last_attempt_at=None,
        last_error=None,
        gateway=None,
        message_id=None,
        created_at=now,
        updated_at=now,
        note=new.hold.note if new.hold is not None else None,
    )
