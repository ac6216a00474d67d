"""The outbox on SQLite or PostgreSQL (SQLAlchemy Core, one code path).

Concurrency: every writing transaction starts with ``BEGIN IMMEDIATE`` on SQLite, so SQLite runs them
one at a time. On PostgreSQL claims take due rows with ``FOR UPDATE SKIP LOCKED`` (workers never wait
for, or get, each other's rows) and then lock the rows' accounts (``FOR UPDATE``, in id order) before
counting the day's SMS, so caps and intervals hold across workers and hosts. Enqueue locks the same
account rows; it never updates existing outbox rows while holding them (cancel-on-reach is its own
transaction), so the two cannot deadlock. Quiet hours are read from the same locked account rows: a
due row inside them goes back to ``queued`` until their end, without using up an attempt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from pbx_sms.core.sms_status import Status
from pbx_sms.db.config_tables import Account, OptOut
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION
from pbx_sms.db.outbox_table import NOTIFY_CHANNEL, outbox_table
from pbx_sms.db.types import UtcDateTime
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
from pbx_sms.outbox.policy import AccountLimits, Candidate, Gate, Hold, quiet_hold, usable_timezone
from pbx_sms.storage.accounts import stored_quiet_hours

log = logging.getLogger(__name__)
t = outbox_table
_COUNTED = (Status.SENT.value, Status.SENDING.value)
_RETRYABLE = (Status.FAILED.value, Status.SUPPRESSED.value, Status.CANCELLED.value)
# An account row that is gone (removed while SMS were queued): nothing more goes out for it.
_MISSING_ACCOUNT = AccountLimits(sms_enabled=False)


class SqlOutbox:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._write = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._is_postgres = engine.dialect.name == "postgresql"

    @property
    def engine(self) -> Engine:
        return self._engine

    def enqueue(self, items: Sequence[NewSms], now: datetime) -> EnqueueReport:
        queued: list[int] = []
        suppressed: list[tuple[int, str]] = []
        held: list[tuple[int, datetime]] = []
        duplicates = 0
        if not items:
            return EnqueueReport()
        with self._write.begin() as conn:
            facts = _SqlFacts(conn, {item.account_id for item in items}, {item.to for item in items})
            gate = Gate(facts, reserve=False)
            for item in items:
                # Quiet hours move the send time; the limits are then those of the time it will go out.
                at = max(item.due_at, now)
                hold = None if item.reason else quiet_hold(facts.limits(item.account_id), at)
                reason = item.reason or gate.decide(_candidate(item, hold.until if hold else at))
                row_id = conn.execute(self._insert(_insert_values(item, now, reason, hold))).scalar()
                if row_id is None:
                    duplicates += 1
                elif reason:
                    suppressed.append((row_id, reason))
                else:
                    queued.append(row_id)
                    if hold is not None:
                        held.append((row_id, hold.until))
            if queued:
                self._notify(conn)
        return EnqueueReport(tuple(queued), tuple(suppressed), duplicates, held=tuple(held))

    def _insert(self, values: dict[str, Any]) -> Any:
        dialect_insert = postgresql.insert if self._is_postgres else sqlite.insert
        return (
            dialect_insert(t)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["rule_id", "call_id", "recipient"])
            .returning(t.c.id)
        )

    def _notify(self, conn: Connection) -> None:
        if self._is_postgres:
            conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})

    def cancel_reached(self, account_id: int, other_party: str, call_id: str, reached_at: datetime) -> int:
        with self._write.begin() as conn:
            result = conn.execute(
                update(t)
                .where(
                    t.c.status == Status.QUEUED.value,
                    t.c.cancel_on_reach.is_(True),
                    t.c.account_id == account_id,
                    t.c.other_party == other_party,
                    t.c.call_id != call_id,
                    t.c.call_ended_at <= reached_at,
                )
                .values(status=Status.CANCELLED.value, reason=Reason.REACHED_PERSON.value, updated_at=reached_at)
            )
            return result.rowcount

    def claim_due(self, worker_id: str, now: datetime, limit: int, lease_s: float) -> list[OutboxRow]:
        with self._write.begin() as conn:
            due = conn.execute(
                select(t.c.id, t.c.status, t.c.account_id, t.c.rule_id, t.c.recipient)
                .add_columns(t.c.to_other_party, t.c.min_interval_s)
                .where(
                    or_(
                        and_(t.c.status == Status.QUEUED.value, t.c.due_at <= now),
                        and_(t.c.status == Status.SENDING.value, t.c.locked_until <= now),
                    )
                )
                .order_by(t.c.due_at, t.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not due:
                return []
            fresh = [row for row in due if row.status == Status.QUEUED.value]
            facts = _SqlFacts(conn, {row.account_id for row in due}, {row.recipient for row in fresh})
            # Due, but inside quiet hours now (a retry, a restart, an expired lease): wait for their
            # end, no attempt used.
            held = {row.id: hold for row in due if (hold := quiet_hold(facts.limits(row.account_id), now))}
            if held:
                conn.execute(_HOLD_STATEMENT, [_hold_params(row_id, hold, now) for row_id, hold in held.items()])
                for row_id, hold in held.items():
                    log.info("SMS %d not sent now: %s", row_id, hold.note)
            approved = [row.id for row in due if row.status != Status.QUEUED.value and row.id not in held]
            gate = Gate(facts, reserve=True)
            for row in fresh:
                if row.id in held:
                    continue
                candidate = Candidate(
                    row.account_id, row.rule_id, row.recipient, row.to_other_party, row.min_interval_s, now
                )
                reason = gate.decide(candidate)
                if reason is None:
                    approved.append(row.id)
                else:
                    conn.execute(
                        update(t)
                        .where(t.c.id == row.id)
                        .values(status=Status.SUPPRESSED.value, reason=reason, updated_at=now)
                    )
                    log.info("SMS %d to %s suppressed when due (%s)", row.id, row.recipient, reason)
            if not approved:
                return []
            leased = conn.execute(
                update(t)
                .where(t.c.id.in_(approved))
                .values(
                    status=Status.SENDING.value,
                    attempts=t.c.attempts + 1,
                    locked_by=worker_id,
                    locked_until=now + timedelta(seconds=lease_s),
                    last_attempt_at=now,
                    updated_at=now,
                )
                .returning(*t.c)
            ).all()
        rows = [_to_row(row._mapping) for row in leased]
        rows.sort(key=lambda row: (row.due_at, row.id))
        return rows

    def apply(self, worker_id: str, outcomes: Iterable[Outcome], now: datetime) -> int:
        grouped: dict[type, list[dict[str, Any]]] = {}
        for outcome in outcomes:
            params = {"row_id": outcome.row_id, "worker": worker_id, "now": now, **_outcome_params(outcome, now)}
            grouped.setdefault(type(outcome), []).append(params)
        if not grouped:
            return 0
        applied = 0
        with self._write.begin() as conn:
            # One executemany per kind of outcome: a burst of results is a handful of statements.
            for kind, params in grouped.items():
                applied += conn.execute(_APPLY_STATEMENTS[kind], params).rowcount
        return applied

    def next_due_at(self) -> datetime | None:
        with self._engine.connect() as conn:
            due = conn.execute(select(func.min(t.c.due_at)).where(t.c.status == Status.QUEUED.value)).scalar()
            lease = conn.execute(select(func.min(t.c.locked_until)).where(t.c.status == Status.SENDING.value)).scalar()
        # func.min loses the column type on some dialects: bring SQLite's text back to a datetime.
        times = [_as_utc(value) for value in (due, lease) if value is not None]
        return min(times, default=None)

    def get(self, row_id: int) -> OutboxRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == row_id)).first()
        return _to_row(row._mapping) if row else None

    def list(
        self,
        *,
        statuses: Iterable[Status] | None = None,
        since: datetime | None = None,
        number: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxRow]:
        query = select(t).order_by(t.c.created_at.desc(), t.c.id.desc())
        if statuses is not None:
            query = query.where(t.c.status.in_([str(status) for status in statuses]))
        if since is not None:
            query = query.where(t.c.created_at >= since)
        if number is not None:
            query = query.where(or_(t.c.recipient == number, t.c.other_party == number))
        if limit is not None:
            query = query.limit(limit)
        with self._engine.connect() as conn:
            return [_to_row(row._mapping) for row in conn.execute(query)]

    def retry(self, row_id: int, now: datetime) -> OutboxRow:
        with self._write.begin() as conn:
            row = self._locked(conn, row_id)
            if row.status not in _RETRYABLE:
                raise OutboxError(
                    f"SMS {row_id} is {row.status}; only failed, suppressed or cancelled SMS can be retried"
                )
            values = {"status": Status.QUEUED.value, "reason": None, "due_at": now, "scheduled_at": now}
            conn.execute(update(t).where(t.c.id == row_id).values(attempts=0, updated_at=now, **values))
            self._notify(conn)
            return _to_row(conn.execute(select(t).where(t.c.id == row_id)).one()._mapping)

    def cancel(self, row_id: int, now: datetime, reason: str = Reason.CANCELLED_BY_ADMIN) -> OutboxRow:
        with self._write.begin() as conn:
            row = self._locked(conn, row_id)
            if row.status != Status.QUEUED.value:
                raise OutboxError(f"SMS {row_id} is {row.status}; only queued SMS can be cancelled")
            conn.execute(
                update(t)
                .where(t.c.id == row_id)
                .values(status=Status.CANCELLED.value, reason=str(reason), updated_at=now)
            )
            return _to_row(conn.execute(select(t).where(t.c.id == row_id)).one()._mapping)

    def cancel_rule(self, rule_id: int, now: datetime) -> int:
        with self._write.begin() as conn:
            return cancel_rule_sms(conn, rule_id, now)

    @staticmethod
    def _locked(conn: Connection, row_id: int) -> Any:
        row = conn.execute(select(t.c.id, t.c.status).where(t.c.id == row_id).with_for_update()).first()
        if row is None:
            raise OutboxError(f"no SMS with id {row_id} in the outbox")
        return row


def cancel_rule_sms(conn: Connection, rule_id: int, now: datetime) -> int:
    """Cancel a deleted rule's queued SMS inside the caller's transaction (the rule-deletion hook)."""
    result = conn.execute(
        update(t)
        .where(t.c.rule_id == rule_id, t.c.status == Status.QUEUED.value)
        .values(status=Status.CANCELLED.value, reason=Reason.RULE_DELETED.value, updated_at=now)
    )
    return result.rowcount


class _SqlFacts:
    """Facts for the gate, read in the caller's transaction; account rows locked until it ends."""

    def __init__(self, conn: Connection, account_ids: set[int], numbers: set[str]) -> None:
        self._conn = conn
        accounts = Account.__table__
        rows = conn.execute(
            select(accounts.c.id, accounts.c.sms_enabled, accounts.c.daily_cap, accounts.c.timezone)
            .add_columns(accounts.c.quiet_hours)
            .where(accounts.c.id.in_(sorted(account_ids)))
            .order_by(accounts.c.id)
            .with_for_update()
        ).all()
        self._limits = {
            row.id: AccountLimits(
                bool(row.sms_enabled),
                row.daily_cap,
                usable_timezone(row.timezone),
                stored_quiet_hours(row.quiet_hours),
            )
            for row in rows
        }
        optouts = OptOut.__table__
        self._optouts = {
            (row.account_id, row.e164)
            for row in conn.execute(
                select(optouts.c.account_id, optouts.c.e164).where(optouts.c.e164.in_(sorted(numbers)))
            )
        }

    def limits(self, account_id: int) -> AccountLimits:
        return self._limits.get(account_id, _MISSING_ACCOUNT)

    def opted_out(self, account_id: int, number: str) -> bool:
        return (account_id, number) in self._optouts or (None, number) in self._optouts

    def sent_between(self, account_id: int, start: datetime, end: datetime) -> int:
        return self._conn.execute(
            select(func.count())
            .select_from(t)
            .where(
                t.c.account_id == account_id,
                t.c.status.in_(_COUNTED),
                t.c.last_attempt_at >= start,
                t.c.last_attempt_at < end,
            )
        ).scalar_one()

    def last_sent_at(self, rule_id: int, to: str) -> datetime | None:
        value = self._conn.execute(
            select(func.max(t.c.last_attempt_at)).where(
                t.c.rule_id == rule_id,
                t.c.recipient == to,
                t.c.to_other_party.is_(True),
                t.c.status.in_(_COUNTED),
            )
        ).scalar()
        return _as_utc(value) if value is not None else None


def _candidate(item: NewSms, at: datetime) -> Candidate:
    return Candidate(item.account_id, item.rule_id, item.to, item.to_other_party, item.min_interval_s, at)


def _insert_values(item: NewSms, now: datetime, reason: str | None, hold: Hold | None = None) -> dict[str, Any]:
    # A held SMS is planned for the end of the quiet hours: retry age counts from then; the note keeps
    # the time it was wanted at.
    due_at = hold.until if hold is not None and not reason else item.due_at
    return {
        "idempotency_key": str(uuid.uuid4()),
        "account_id": item.account_id,
        "rule_id": item.rule_id,
        "rule_name": item.rule_name,
        "call_id": item.call_id,
        "other_party": item.other_party,
        "call_ended_at": item.call_ended_at,
        "recipient": item.to,
        "sender": item.sender,
        "text": item.text,
        "encoding": item.encoding,
        "parts": item.parts,
        "to_other_party": item.to_other_party,
        "min_interval_s": item.min_interval_s,
        "cancel_on_reach": item.cancel_on_reach,
        "status": (Status.SUPPRESSED if reason else Status.QUEUED).value,
        "reason": str(reason) if reason else None,
        "scheduled_at": due_at,
        "due_at": due_at,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "note": hold.note if hold is not None and not reason else None,
    }


def _outcome_params(outcome: Outcome, now: datetime) -> dict[str, Any]:
    if isinstance(outcome, Sent):
        return {"gateway": outcome.gateway, "message_id": outcome.message_id}
    if isinstance(outcome, RetryLater):
        return {"due_at": outcome.due_at, "error": outcome.error}
    if isinstance(outcome, Failed):
        return {"reason": outcome.reason}
    if isinstance(outcome, Released):
        return {}
    raise TypeError(f"unknown outcome {outcome!r}")


def _apply_statement(**values: Any) -> Any:
    """An UPDATE of one leased row (``row_id``, still held by ``worker``) that also drops the lease."""
    return (
        update(t)
        .where(
            t.c.id == bindparam("row_id"),
            t.c.status == Status.SENDING.value,
            t.c.locked_by == bindparam("worker"),
        )
        .values(locked_by=None, locked_until=None, updated_at=bindparam("now"), **values)
    )


_APPLY_STATEMENTS: dict[type, Any] = {
    Sent: _apply_statement(status=Status.SENT.value, gateway=bindparam("gateway"), message_id=bindparam("message_id")),
    RetryLater: _apply_statement(
        status=Status.QUEUED.value, due_at=bindparam("due_at", type_=UtcDateTime()), last_error=bindparam("error")
    ),
    Failed: _apply_statement(status=Status.FAILED.value, reason=bindparam("reason")),
    # Handed back unsent: the attempt counted at claim time did not happen.
    Released: _apply_statement(
        status=Status.QUEUED.value, due_at=bindparam("now", type_=UtcDateTime()), attempts=t.c.attempts - 1
    ),
}


_HOLD_STATEMENT = (
    update(t)
    .where(t.c.id == bindparam("row_id"))
    .values(
        status=Status.QUEUED.value,
        due_at=bindparam("held_until", type_=UtcDateTime()),
        note=bindparam("held_note"),
        locked_by=None,
        locked_until=None,
        updated_at=bindparam("now", type_=UtcDateTime()),
    )
)


def _hold_params(row_id: int, hold: Hold, now: datetime) -> dict[str, Any]:
    return {"row_id": row_id, "held_until": hold.until, "held_note": hold.note, "now": now}


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _to_row(m: Any) -> OutboxRow:
    return OutboxRow(
        id=m["id"],
        idempotency_key=m["idempotency_key"],
        account_id=m["account_id"],
        rule_id=m["rule_id"],
        rule_name=m["rule_name"],
        call_id=m["call_id"],
        other_party=m["other_party"],
        call_ended_at=m["call_ended_at"],
        to=m["recipient"],
        sender=m["sender"],
        text=m["text"],
        encoding=m["encoding"],
        parts=m["parts"],
        to_other_party=bool(m["to_other_party"]),
        min_interval_s=m["min_interval_s"],
        cancel_on_reach=bool(m["cancel_on_reach"]),
        status=Status(m["status"]),
        reason=m["reason"],
        scheduled_at=m["scheduled_at"],
        due_at=m["due_at"],
        attempts=m["attempts"],
        locked_by=m["locked_by"],
        locked_until=m["locked_until"],
        last_attempt_at=m["last_attempt_at"],
        last_error=m["last_error"],
        gateway=m["gateway"],
        message_id=m["message_id"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        note=m["note"],
    )
