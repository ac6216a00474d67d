"""The outbox port: what the worker, the enqueue path and the CLI need from durable storage.

``pbx_sms.outbox.flow.Outbox`` implements it once over a row store: ``SqlOutbox`` (SQLite and
PostgreSQL) and ``MemoryOutbox`` (the test twin); tests/integration/test_outbox_contract.py runs the
contract on all three. Methods are synchronous; the async worker calls them in a thread. ``now`` is
always passed in, so tests control the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.model import EnqueueReport, NewSms, OutboxRow, Outcome


class OutboxStore(Protocol):
    def enqueue(self, items: Sequence[NewSms], now: datetime) -> EnqueueReport:
        """Store new SMS; an existing (rule, call, recipient) is skipped; limits checked → suppressed."""
        ...

    def cancel_reached(self, account_id: int, other_party: str, call_id: str, reached_at: datetime) -> int:
        """A call with ``other_party`` was answered: cancel their queued cancel-on-reach SMS from earlier calls."""
        ...

    def claim_due(self, worker_id: str, now: datetime, limit: int, lease_s: float) -> list[OutboxRow]:
        """Atomically lease up to ``limit`` due rows (and rows whose lease expired) to ``worker_id``,
        in (due_at, id) order.

        Rows that the limits now forbid become ``suppressed``, rows inside the account's quiet hours wait
        for their end; neither is returned nor counts toward ``limit``.
        """
        ...

    def apply(self, worker_id: str, outcomes: Iterable[Outcome], now: datetime) -> int:
        """Record send outcomes for rows this worker still leases; returns how many applied."""
        ...

    def next_due_at(self) -> datetime | None:
        """The earliest time a row becomes claimable (a due row or an expiring lease)."""
        ...

    def get(self, row_id: int) -> OutboxRow | None: ...

    def list(
        self,
        *,
        statuses: Iterable[Status] | None = None,
        since: datetime | None = None,
        number: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxRow]:
        """Rows, newest first; ``number`` matches the recipient or the call's other party."""
        ...

    def retry(self, row_id: int, now: datetime) -> OutboxRow:
        """Queue a failed, suppressed or cancelled row again, due now (raises OutboxError otherwise)."""
        ...

    def cancel(self, row_id: int, now: datetime, reason: Reason = Reason.CANCELLED_BY_ADMIN) -> OutboxRow:
        """Cancel a queued row (raises OutboxError for any other status)."""
        ...
