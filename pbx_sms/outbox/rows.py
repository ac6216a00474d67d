"""The storage port under the outbox: the facts a store reads and the row changes it writes.

``pbx_sms.outbox.flow.Outbox`` runs every outbox operation on it, with the decisions taken in
``pbx_sms.outbox.decisions``; a store only reads and writes rows (``SqlRows``: SQLite and PostgreSQL;
``MemoryRows``: the test twin, which holds no logic of its own). Every method of a ``RowTransaction``
runs inside one transaction: on PostgreSQL the accounts and claimed rows it locks stay locked until
it ends.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.claiming import ClaimPlan, DueRow
from pbx_sms.outbox.decisions import AccountLimits, DayWindow, IntervalKey, NewRow, PartyRow
from pbx_sms.outbox.model import ClaimScope, LogQuery, NewSms, OutboxRow, Outcome
from pbx_sms.outbox.replan import CallRow


@dataclass(frozen=True, slots=True)
class LockedAccounts:
    """The limits of the accounts asked for that exist; ``busy``: those another transaction holds (only
    when asked not to wait)."""

    limits: dict[int, AccountLimits]
    busy: frozenset[int] = frozenset()


class RowTransaction(Protocol):
    # --- facts ---------------------------------------------------------------------------------

    def lock_accounts(self, account_ids: Collection[int], *, wait: bool) -> LockedAccounts:
        """Read and lock the accounts (in id order), so caps and intervals hold across workers."""
        ...

    def opted_out(self, numbers: Collection[str]) -> frozenset[tuple[int | None, str]]:
        """The opt-outs of these numbers: (account id, number), account None = every account."""
        ...

    def sent_in(self, days: Collection[DayWindow]) -> dict[DayWindow, int]:
        """Per day: SMS of its account sent, being sent or unclear (``COUNTS_AS_SENT``), by
        ``last_attempt_at`` in [start, end)."""
        ...

    def last_sent_at(self, keys: Collection[IntervalKey]) -> dict[IntervalKey, datetime]:
        """Per (rule, recipient, caller) (``interval_key``): the latest ``last_attempt_at`` of such SMS
        that count as sent (``COUNTS_AS_SENT``)."""
        ...

    def due(self, now: datetime, limit: int, after: DueRow | None, scope: ClaimScope | None = None) -> list[DueRow]:
        """Up to ``limit`` claimable rows (queued, or unclear without a reason, with ``due_at <= now``;
        sending with ``locked_until <= now``) in (due_at, id) order, after ``after``, of calls of ``pbx`` only when
        given; locked, other transactions' locked rows skipped."""
        ...

    def queued_of_party(self, account_id: int, other_party: str) -> list[PartyRow]:
        """The queued rows of the account's calls with this other party."""
        ...

    def rows_of_call(self, pbx: str, call_id: str) -> list[CallRow]:
        """Every row of the call (``pbx``, ``call_id``), locked for the rest of the transaction."""
        ...

    def status_of(self, row_id: int) -> Status | None:
        """The row's status, locked for the rest of the transaction; None when there is no such row."""
        ...

    def get(self, row_id: int) -> OutboxRow | None: ...

    # --- changes -------------------------------------------------------------------------------

    def insert(self, rows: Sequence[NewRow], now: datetime) -> list[int | None]:
        """Insert with a fresh random idempotency key each; per row its id, None when its (rule, call,
        recipient) is there already."""
        ...

    def write_claim(self, plan: ClaimPlan, worker_id: str, now: datetime, lease_until: datetime) -> list[OutboxRow]:
        """Write the plan (see ``ClaimPlan``): first its ``unclear_since`` values; leased rows:
        ``sending``, attempts + 1, ``locked_by`` ``worker_id`` until ``lease_until``, ``last_attempt_at``
        now. Returns the leased rows."""
        ...

    def cancel(self, row_ids: Collection[int], reason: Reason, now: datetime) -> int:
        """Cancel those of the rows that are still queued, with ``reason``; returns how many."""
        ...

    def rewrite(self, changes: Sequence[tuple[int, NewSms]], now: datetime) -> int:
        """Give those of the rows that are still queued the text (sender, encoding, parts) of their new SMS;
        returns how many."""
        ...

    def requeue(self, row_id: int, now: datetime) -> None:
        """Queue the row as new: due and scheduled now, no attempts, no reason, not unclear."""
        ...

    def apply(self, worker_id: str, outcomes: Sequence[Outcome], now: datetime) -> int:
        """Record outcomes (see ``pbx_sms.outbox.model``) of rows still leased to ``worker_id``, dropping
        the lease: Sent → sent with gateway and message id; RetryLater → its ``status`` (queued or
        unclear) and ``unclear_since``, due then, with the error; Failed → failed with the reason;
        Released → its ``status`` and ``unclear_since``, due now, attempts - 1. Returns how many."""
        ...

    def wake_workers(self) -> None:
        """Rows became due: tell workers of other processes, when the database can (PostgreSQL NOTIFY)."""
        ...


class RowStore(Protocol):
    def transaction(self) -> AbstractContextManager[RowTransaction]:
        """A writing transaction (SQLite: ``BEGIN IMMEDIATE``, one at a time)."""
        ...

    def get(self, row_id: int) -> OutboxRow | None: ...

    def list(self, query: LogQuery) -> list[OutboxRow]: ...

    def next_due_at(self, scope: ClaimScope | None = None) -> datetime | None:
        """The earliest ``due_at`` of a claimable row (see ``RowTransaction.due``) or ``locked_until``
        of a row being sent."""
        ...
