"""The outbox on any row store: each operation reads the facts, lets ``decisions`` plan, writes the plan.

One flow for every store (``SqlOutbox``, ``MemoryOutbox``), so they cannot disagree. A claim brings due
rows in batches of ``limit`` in due order until ``limit`` rows are handed out or no due rows are left:
rows held by quiet hours or suppressed on the way do not count, and the table is never read whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from pbx_sms.core.bounds import fits_bigint
from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.claiming import ClaimPlan, ClaimPlanner, DueRow
from pbx_sms.outbox.decisions import (
    AccountLimits,
    EnqueuePlanner,
    Facts,
    Questions,
    cancelled_on_reach,
    check_cancel,
    check_retry,
    enqueue_report,
)
from pbx_sms.outbox.model import ClaimScope, EnqueueReport, LogQuery, NewSms, OutboxError, OutboxRow, Outcome
from pbx_sms.outbox.replan import plan_replan
from pbx_sms.outbox.rows import RowStore, RowTransaction

log = logging.getLogger(__name__)


class Outbox:
    """What the worker, the enqueue path and the CLI need from durable storage, over a ``RowStore``.

    ``SqlOutbox`` (SQLite and PostgreSQL) and ``MemoryOutbox`` (the test twin) differ only in their rows;
    tests/integration/test_outbox_contract.py runs the contract on all three. Methods are synchronous; the
    async worker calls them in a thread. ``now`` is always passed in, so tests control the clock.
    """

    def __init__(self, rows: RowStore) -> None:
        self._rows = rows

    def enqueue(self, items: Sequence[NewSms], now: datetime) -> EnqueueReport:
        """Store new SMS; an existing (rule, pbx, call, recipient) is skipped; limits checked → suppressed."""
        if not items:
            return EnqueueReport()
        with self._rows.transaction() as tx:
            limits = tx.lock_accounts({item.account_id for item in items}, wait=True).limits
            planner = EnqueuePlanner(items, limits, now)
            rows = planner.rows(_facts(tx, planner.questions, limits))
            report = enqueue_report(rows, tx.insert(rows, now))
            if report.queued:
                tx.wake_workers()
        return report

    def replan_call(self, pbx: str, call_id: str, items: Sequence[NewSms], now: datetime) -> EnqueueReport:
        """A better view of the call (``pbx``, ``call_id``) plans ``items``: cancel or rewrite what the weaker
        view queued and has not sent, queue the rest (pbx_sms.outbox.replan); nothing changes once any SMS of
        the call went out. The new SMS are queued in a second transaction, as ``enqueue`` (it locks the
        accounts, and no transaction updates outbox rows while holding those); a crash in between is
        repaired by processing the call again: the re-plan finds the rows it left and does the rest."""
        with self._rows.transaction() as tx:
            plan = plan_replan(tx.rows_of_call(pbx, call_id), items)
            cancelled = tx.cancel(plan.cancel, Reason.REPLANNED, now) if plan.cancel else 0
            rewritten = tx.rewrite(plan.rewrite, now) if plan.rewrite else 0
        report = self.enqueue(plan.insert, now)
        return replace(report, cancelled_by_replan=cancelled, rewritten=rewritten, gone_out=len(plan.gone_out))

    def cancel_reached(self, account_id: int, other_party: str, call_id: str, reached_at: datetime, *, pbx: str) -> int:
        """A call (``pbx``, ``call_id``) with ``other_party`` was answered: cancel their queued
        cancel-on-reach SMS from earlier calls (of any PBX of the account)."""
        with self._rows.transaction() as tx:
            row_ids = cancelled_on_reach(tx.queued_of_party(account_id, other_party), pbx, call_id, reached_at)
            return tx.cancel(row_ids, Reason.REACHED_PERSON, reached_at) if row_ids else 0

    def claim_due(
        self,
        worker_id: str,
        now: datetime,
        limit: int,
        lease_s: float,
        *,
        scope: ClaimScope | None = None,
        resend_interrupted: bool = True,
    ) -> list[OutboxRow]:
        """Atomically lease up to ``limit`` due rows (and rows whose lease expired) to ``worker_id``,
        in (due_at, id) order; only the rows ``scope`` admits when given (see ``ClaimScope``).

        Rows that the limits now forbid become ``suppressed``, rows inside the account's quiet hours wait
        for their end; neither is returned nor counts toward ``limit``. A row whose lease expired is
        leased again only when ``resend_interrupted`` (the worker's gateway can send it again without
        risk); otherwise it is held as ``unclear`` for an operator (see ``pbx_sms.outbox.claiming``).
        """
        lease_until = now + timedelta(seconds=lease_s)
        planner = ClaimPlanner(limit, now, resend_interrupted=resend_interrupted)
        limits: dict[int, AccountLimits] = {}
        claimed: list[OutboxRow] = []
        with self._rows.transaction() as tx:
            after: DueRow | None = None
            while planner.remaining > 0:
                batch = tx.due(now, limit, after, scope)
                if not batch:
                    break
                # Only the first batch waits for account locks (in id order, as enqueue does). A later
                # batch leaves rows of accounts another transaction holds for the next claim: waiting
                # with locks held already could deadlock with another claimer.
                locked = tx.lock_accounts({row.account_id for row in batch} - limits.keys(), wait=after is None)
                limits |= locked.limits
                ready = [row for row in batch if row.account_id not in locked.busy]
                plan = planner.plan(ready, _facts(tx, planner.questions(ready, limits), limits))
                _log_claim(plan)
                claimed += tx.write_claim(plan, worker_id, now, lease_until)
                if len(batch) < limit:
                    break
                after = batch[-1]
        claimed.sort(key=lambda row: (row.due_at, row.id))
        return claimed

    def apply(self, worker_id: str, outcomes: Iterable[Outcome], now: datetime) -> int:
        """Record send outcomes for rows this worker still leases; returns how many applied."""
        batch = list(outcomes)
        if not batch:
            return 0
        with self._rows.transaction() as tx:
            return tx.apply(worker_id, batch, now)

    def next_due_at(self, scope: ClaimScope | None = None) -> datetime | None:
        """The earliest time a row (that ``scope`` admits, when given) becomes claimable (a due row or an
        expiring lease)."""
        return self._rows.next_due_at(scope)

    def get(self, row_id: int) -> OutboxRow | None:
        return self._rows.get(row_id) if fits_bigint(row_id) else None

    def log(self, query: LogQuery) -> list[OutboxRow]:
        """The SMS log rows ``query`` selects, newest first (the CLI's `log` and the API's SMS log)."""
        if query.limit is not None and query.limit < 0:
            raise OutboxError(f"limit {query.limit}: expected 0 or more (or none)")
        if query.after is not None and not fits_bigint(query.after.id):
            raise OutboxError(f"position after SMS {query.after.id}: no SMS has such an id")
        # More rows than an id can count is no limit at all (and more than the database's LIMIT takes).
        if query.limit is not None and not fits_bigint(query.limit):
            query = replace(query, limit=None)
        return self._rows.list(query)

    def list(
        self,
        *,
        statuses: Iterable[Status] | None = None,
        since: datetime | None = None,
        number: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxRow]:
        """Rows, newest first; ``number`` matches the recipient or the call's other party."""
        wanted = frozenset(statuses) if statuses is not None else None
        return self.log(LogQuery(wanted, since, number, limit))

    def retry(self, row_id: int, now: datetime) -> OutboxRow:
        """Queue a failed, suppressed, cancelled or unclear row again, due now, as new (raises OutboxError
        otherwise). For an unclear row this is the operator's decision that it is to be sent again."""
        _check_row_id(row_id)
        with self._rows.transaction() as tx:
            check_retry(row_id, tx.status_of(row_id))
            tx.requeue(row_id, now)
            tx.wake_workers()
            return _changed(tx, row_id)

    def cancel(self, row_id: int, now: datetime, reason: Reason = Reason.CANCELLED_BY_ADMIN) -> OutboxRow:
        """Cancel a queued row (raises OutboxError for any other status)."""
        _check_row_id(row_id)
        with self._rows.transaction() as tx:
            check_cancel(row_id, tx.status_of(row_id))
            tx.cancel([row_id], reason, now)
            return _changed(tx, row_id)


def _check_row_id(row_id: int) -> None:
    """An id no row can have (past the 64-bit ids of both databases) is unknown, not a database error."""
    if not fits_bigint(row_id):
        raise OutboxError(f"no SMS with id {row_id} in the outbox")


def _facts(tx: RowTransaction, questions: Questions, limits: dict[int, AccountLimits]) -> Facts:
    return Facts(
        limits,
        tx.opted_out(questions.numbers) if questions.numbers else frozenset(),
        tx.sent_in(questions.days) if questions.days else {},
        tx.last_sent_at(questions.intervals) if questions.intervals else {},
    )


def _log_claim(plan: ClaimPlan) -> None:
    for row, hold, status in plan.held:
        log.info(
            "SMS %d not sent now: %s",
            row.id,
            hold.note,
            extra={"sms_id": row.id, "status": str(status), "held_until": hold.until},
        )
    for row, reason in plan.interrupted:
        log.warning(
            "SMS %d to %s unclear: %s",
            row.id,
            row.to,
            reason,
            extra={"sms_id": row.id, "status": "unclear", "reason": reason},
        )
    for row, reason in plan.suppressed:
        log.info(
            "SMS %d to %s suppressed when due (%s)",
            row.id,
            row.to,
            reason,
            extra={"sms_id": row.id, "status": "suppressed", "reason": str(reason)},
        )


def _changed(tx: RowTransaction, row_id: int) -> OutboxRow:
    row = tx.get(row_id)
    assert row is not None, "checked and locked in this transaction"
    return row
