"""The outbox on SQLite or PostgreSQL (SQLAlchemy Core, one code path).

Concurrency: every writing transaction starts with ``BEGIN IMMEDIATE`` on SQLite, so SQLite runs them
one at a time. On PostgreSQL claims take due rows with ``FOR UPDATE SKIP LOCKED`` (workers never wait
for, or get, each other's rows) and then lock the rows' accounts (``FOR UPDATE``, in id order) before
counting the day's SMS, so caps and intervals hold across workers and hosts; a claim's later batches
only take account locks that are free. Enqueue locks the same account rows; it never updates existing
outbox rows while holding them (cancel-on-reach is its own transaction), so the two cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, bindparam, false, func, or_, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION
from pbx_sms.db.outbox_table import NOTIFY_CHANNEL
from pbx_sms.db.types import UtcDateTime
from pbx_sms.outbox import sql_facts
from pbx_sms.outbox.claiming import ClaimPlan, DueRow
from pbx_sms.outbox.decisions import DayWindow, IntervalKey, NewRow, PartyRow
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
from pbx_sms.outbox.sql_log import delivery_is, logged_row, select_logged
from pbx_sms.outbox.sql_rows import DUE_COLUMNS, as_utc, due_row, insert_values, outbox_row, t


class SqlOutbox(Outbox):
    def __init__(self, engine: Engine) -> None:
        super().__init__(SqlRows(engine))


class SqlRows:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._write = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._is_postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[RowTransaction]:
        with self._write.begin() as conn:
            yield _SqlTransaction(conn, self._is_postgres)

    def get(self, row_id: int) -> OutboxRow | None:
        with self._engine.connect() as conn:
            return _get(conn, row_id)

    def list(self, query: LogQuery) -> list[OutboxRow]:
        select_rows = select_logged().order_by(t.c.created_at.desc(), t.c.id.desc())
        if query.statuses is not None:
            select_rows = select_rows.where(t.c.status.in_(sorted(str(status) for status in query.statuses)))
        if query.since is not None:
            select_rows = select_rows.where(t.c.created_at >= query.since)
        if query.until is not None:
            select_rows = select_rows.where(t.c.created_at < query.until)
        if query.number is not None:
            select_rows = select_rows.where(or_(t.c.recipient == query.number, t.c.other_party == query.number))
        if query.account_id is not None:
            select_rows = select_rows.where(t.c.account_id == query.account_id)
        if query.rule_name is not None:
            select_rows = select_rows.where(t.c.rule_name == query.rule_name)
        if query.delivery is not None:
            select_rows = select_rows.where(delivery_is(query.delivery))
        if query.after is not None:
            at, row_id = query.after.created_at, query.after.id
            select_rows = select_rows.where(or_(t.c.created_at < at, and_(t.c.created_at == at, t.c.id < row_id)))
        if query.limit is not None:
            select_rows = select_rows.limit(query.limit)
        with self._engine.connect() as conn:
            return [logged_row(row._mapping) for row in conn.execute(select_rows)]

    def next_due_at(self, scope: ClaimScope | None = None) -> datetime | None:
        of_pbx = _admitted(scope)
        with self._engine.connect() as conn:
            due = conn.execute(select(func.min(t.c.due_at)).where(_WAITS_FOR_ITS_TIME, of_pbx)).scalar()
            lease = conn.execute(
                select(func.min(t.c.locked_until)).where(t.c.status == Status.SENDING.value, of_pbx)
            ).scalar()
        return min((as_utc(value) for value in (due, lease) if value is not None), default=None)


class _SqlTransaction:
    def __init__(self, conn: Connection, is_postgres: bool) -> None:
        self._conn = conn
        self._is_postgres = is_postgres

    # --- facts ---------------------------------------------------------------------------------

    def lock_accounts(self, account_ids: Collection[int], *, wait: bool) -> LockedAccounts:
        return sql_facts.lock_accounts(self._conn, account_ids, wait=wait)

    def opted_out(self, numbers: Collection[str]) -> frozenset[tuple[int | None, str]]:
        return sql_facts.opted_out(self._conn, numbers)

    def sent_in(self, days: Collection[DayWindow]) -> dict[DayWindow, int]:
        return sql_facts.sent_in(self._conn, days)

    def last_sent_at(self, keys: Collection[IntervalKey]) -> dict[IntervalKey, datetime]:
        return sql_facts.last_sent_at(self._conn, keys)

    def due(self, now: datetime, limit: int, after: DueRow | None, scope: ClaimScope | None = None) -> list[DueRow]:
        query = select(*DUE_COLUMNS).where(
            or_(
                and_(_WAITS_FOR_ITS_TIME, t.c.due_at <= now),
                and_(t.c.status == Status.SENDING.value, t.c.locked_until <= now),
            )
        )
        if scope is not None:
            query = query.where(_admitted(scope))
        if after is not None:
            query = query.where(or_(t.c.due_at > after.due_at, and_(t.c.due_at == after.due_at, t.c.id > after.id)))
        query = query.order_by(t.c.due_at, t.c.id).limit(limit).with_for_update(skip_locked=True)
        return [due_row(row._mapping) for row in self._conn.execute(query)]

    def queued_of_party(self, account_id: int, other_party: str) -> list[PartyRow]:
        query = (
            select(t.c.id, t.c.pbx, t.c.call_id, t.c.call_ended_at, t.c.cancel_on_reach)
            .where(t.c.status == Status.QUEUED.value, t.c.account_id == account_id, t.c.other_party == other_party)
            # Waits for a claim that holds one of them: it may leave the row queued (quiet hours).
            .with_for_update()
        )
        return [
            PartyRow(row.id, row.pbx, row.call_id, row.call_ended_at, bool(row.cancel_on_reach))
            for row in self._conn.execute(query)
        ]

    def rows_of_call(self, pbx: str, call_id: str) -> list[CallRow]:
        query = (
            select(t.c.id, t.c.rule_id, t.c.recipient, t.c.status, t.c.attempts)
            .where(t.c.pbx == pbx, t.c.call_id == call_id)
            .order_by(t.c.id)
            # Waits for a claim that holds one of them: it decides whether the SMS is going out.
            .with_for_update()
        )
        return [
            CallRow(row.id, row.rule_id, row.recipient, Status(row.status), row.attempts)
            for row in self._conn.execute(query)
        ]

    def status_of(self, row_id: int) -> Status | None:
        status = self._conn.execute(select(t.c.status).where(t.c.id == row_id).with_for_update()).scalar()
        return Status(status) if status is not None else None

    def get(self, row_id: int) -> OutboxRow | None:
        return _get(self._conn, row_id)

    # --- changes -------------------------------------------------------------------------------

    def insert(self, rows: Sequence[NewRow], now: datetime) -> list[int | None]:
        dialect_insert = postgresql.insert if self._is_postgres else sqlite.insert
        ids: list[int | None] = []
        for row in rows:
            statement = (
                dialect_insert(t)
                .values(**insert_values(row, now))
                .on_conflict_do_nothing(index_elements=["rule_id", "pbx", "call_id", "recipient"])
                .returning(t.c.id)
            )
            ids.append(self._conn.execute(statement).scalar())
        return ids

    def write_claim(self, plan: ClaimPlan, worker_id: str, now: datetime, lease_until: datetime) -> list[OutboxRow]:
        if plan.unclear_since:
            params = [{"row_id": row_id, "since": since, "now": now} for row_id, since in plan.unclear_since.items()]
            self._conn.execute(_UNCLEAR_SINCE, params)
        if plan.interrupted:
            params = [{"row_id": due.id, "reason": reason, "now": now} for due, reason in plan.interrupted]
            self._conn.execute(_INTERRUPTED, params)
        if plan.held:
            params = [
                {"row_id": due.id, "status": status.value, "until": hold.until, "note": hold.note, "now": now}
                for due, hold, status in plan.held
            ]
            self._conn.execute(_HOLD, params)
        if plan.suppressed:
            params = [{"row_id": due.id, "reason": reason.value, "now": now} for due, reason in plan.suppressed]
            self._conn.execute(_SUPPRESS, params)
        if not plan.leased:
            return []
        leased = self._conn.execute(
            update(t)
            .where(t.c.id.in_([due.id for due in plan.leased]))
            .values(
                status=Status.SENDING.value,
                attempts=t.c.attempts + 1,
                locked_by=worker_id,
                locked_until=lease_until,
                last_attempt_at=now,
                updated_at=now,
            )
            .returning(*t.c)
        )
        return [outbox_row(row._mapping) for row in leased]

    def cancel(self, row_ids: Collection[int], reason: Reason, now: datetime) -> int:
        result = self._conn.execute(
            update(t)
            .where(t.c.id.in_(sorted(row_ids)), t.c.status == Status.QUEUED.value)
            .values(status=Status.CANCELLED.value, reason=reason.value, updated_at=now)
        )
        return result.rowcount

    def rewrite(self, changes: Sequence[tuple[int, NewSms]], now: datetime) -> int:
        params = [
            {
                "row_id": row_id,
                "text": sms.text,
                "sender": sms.sender,
                "encoding": sms.encoding,
                "parts": sms.parts,
                "now": now,
            }
            for row_id, sms in changes
        ]
        return self._conn.execute(_REWRITE, params).rowcount

    def requeue(self, row_id: int, now: datetime) -> None:
        values = {"status": Status.QUEUED.value, "reason": None, "due_at": now, "scheduled_at": now}
        self._conn.execute(
            update(t).where(t.c.id == row_id).values(attempts=0, unclear_since=None, updated_at=now, **values)
        )

    def apply(self, worker_id: str, outcomes: Sequence[Outcome], now: datetime) -> int:
        grouped: dict[type, list[dict[str, Any]]] = {}
        for outcome in outcomes:
            params = {"row_id": outcome.row_id, "worker": worker_id, "now": now, **_outcome_params(outcome)}
            grouped.setdefault(type(outcome), []).append(params)
        # One executemany per kind of outcome: a burst of results is a handful of statements.
        return sum(self._conn.execute(_APPLY[kind], batch).rowcount for kind, batch in grouped.items())

    def wake_workers(self) -> None:
        if self._is_postgres:
            self._conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def _get(conn: Connection, row_id: int) -> OutboxRow | None:
    row = conn.execute(select_logged().where(t.c.id == row_id)).first()
    return logged_row(row._mapping) if row else None


def _outcome_params(outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, Sent):
        return {"gateway": outcome.gateway, "message_id": outcome.message_id}
    if isinstance(outcome, RetryLater):
        return {
            "due_at": outcome.due_at,
            "error": outcome.error,
            "status": outcome.status.value,
            "since": outcome.unclear_since,
        }
    if isinstance(outcome, Failed):
        return {"reason": outcome.reason}
    if isinstance(outcome, Released):
        return {"status": outcome.status.value, "since": outcome.unclear_since}
    raise TypeError(f"unknown outcome {outcome!r}")


def _by_id(**values: Any) -> Any:
    """An UPDATE of the row ``row_id`` for executemany, ``now`` its update time."""
    return (
        update(t)
        .where(t.c.id == bindparam("row_id"))
        .values(updated_at=bindparam("now", type_=UtcDateTime()), **values)
    )


def _leased(**values: Any) -> Any:
    """An UPDATE of one leased row (``row_id``, still held by ``worker``) that also drops the lease."""
    return (
        update(t)
        .where(t.c.id == bindparam("row_id"), t.c.status == Status.SENDING.value, t.c.locked_by == bindparam("worker"))
        .values(locked_by=None, locked_until=None, updated_at=bindparam("now", type_=UtcDateTime()), **values)
    )


_HOLD = _by_id(
    status=bindparam("status"),
    due_at=bindparam("until", type_=UtcDateTime()),
    note=bindparam("note"),
    locked_by=None,
    locked_until=None,
)
_SUPPRESS = _by_id(status=Status.SUPPRESSED.value, reason=bindparam("reason"))
_REWRITE = _by_id(
    text=bindparam("text"), sender=bindparam("sender"), encoding=bindparam("encoding"), parts=bindparam("parts")
).where(t.c.status == Status.QUEUED.value)
_UNCLEAR_SINCE = _by_id(unclear_since=bindparam("since", type_=UtcDateTime()))
_INTERRUPTED = _by_id(status=Status.UNCLEAR.value, reason=bindparam("reason"), locked_by=None, locked_until=None)
# Claimable once due: queued, or unclear and left to the worker (no reason: not held for an operator).
_WAITS_FOR_ITS_TIME = or_(
    t.c.status == Status.QUEUED.value, and_(t.c.status == Status.UNCLEAR.value, t.c.reason.is_(None))
)
_APPLY: dict[type, Any] = {
    Sent: _leased(status=Status.SENT.value, gateway=bindparam("gateway"), message_id=bindparam("message_id")),
    RetryLater: _leased(
        status=bindparam("status"),
        due_at=bindparam("due_at", type_=UtcDateTime()),
        last_error=bindparam("error"),
        unclear_since=bindparam("since", type_=UtcDateTime()),
    ),
    Failed: _leased(status=Status.FAILED.value, reason=bindparam("reason")),
    # Handed back unsent: the attempt counted at claim time did not happen.
    Released: _leased(
        status=bindparam("status"),
        due_at=bindparam("now", type_=UtcDateTime()),
        attempts=t.c.attempts - 1,
        unclear_since=bindparam("since", type_=UtcDateTime()),
    ),
}


def _admitted(scope: ClaimScope | None) -> ColumnElement[bool]:
    """``ClaimScope.admits`` as SQL (the contract suite checks that both say the same)."""
    if scope is None:
        return true()
    own = t.c.pbx == scope.pbx
    return own if scope.local_gateway else or_(own, t.c.local_to_pbx.is_(false()))
