"""Writing and reading the call log (first report of a call wins)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pbx_sms.core.call import CompletedCall
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION

calls = calls_table


def record_calls(
    engine: Engine, completed: Sequence[CompletedCall], pbx: str, source: str, now: datetime
) -> list[CompletedCall]:
    """Store the calls of ``pbx`` in one transaction, each unless a report of it is there already;
    returns the new ones (the others were reported before, by AMI or AGI)."""
    if not completed:
        return []
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    firsts: dict[str, CompletedCall] = {}
    for call in completed:
        firsts.setdefault(call.call_id, call)  # the first report of a call wins, also within a batch
    statement = (
        dialect_insert(calls).on_conflict_do_nothing(index_elements=["pbx", "call_id"]).returning(calls.c.call_id)
    )
    # One microsecond apart: calls are processed oldest first, and within a batch the order they were
    # completed in decides which of two calls to one number a minimum interval lets through.
    rows = [_row(call, pbx, source, now + timedelta(microseconds=i)) for i, call in enumerate(firsts.values())]
    with engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as conn:
        new_ids = set(conn.execute(statement, rows).scalars())
    return [call for call in firsts.values() if call.call_id in new_ids]


def record_call(engine: Engine, call: CompletedCall, pbx: str, source: str, now: datetime) -> bool:
    """Store ``call`` unless a report of the same call is already there; True when it was new."""
    return bool(record_calls(engine, [call], pbx, source, now))


def _row(call: CompletedCall, pbx: str, source: str, now: datetime) -> dict[str, object]:
    return {
        "pbx": pbx,
        "call_id": call.call_id,
        "direction": call.direction,
        "number": call.number[:16] if call.number else None,
        "other_party": call.other_party[:64],
        "status": call.status,
        "talk_s": call.talk_s,
        "started_at": call.started_at,
        "ended_at": call.ended_at,
        "source": source,
        "evidence": call.evidence,
        "received_at": now,
        "processed_at": None,
        "account": None,
    }


def mark_processed(engine: Engine, pbx: str, call_id: str, account: str | None, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(calls)
            .where(calls.c.pbx == pbx, calls.c.call_id == call_id)
            .values(processed_at=now, account=account)
        )


def unprocessed_calls(engine: Engine, pbx: str, limit: int = 100) -> list[CompletedCall]:
    """Calls of ``pbx`` recorded but not yet matched against the rules (recorded in a batch by the
    daemon, by the AGI hook, or before a crash), oldest first."""
    query = (
        select(calls)
        .where(calls.c.processed_at.is_(None), calls.c.pbx == pbx)
        .order_by(calls.c.received_at, calls.c.ended_at, calls.c.call_id)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings()
        return [
            CompletedCall(
                call_id=row["call_id"],
                direction=row["direction"],
                number=row["number"],
                other_party=row["other_party"],
                status=row["status"],
                talk_s=row["talk_s"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                evidence=row["evidence"],
            )
            for row in rows
        ]


def reached_person_since(engine: Engine, account: str, pbx: str, call: CompletedCall) -> bool:
    """Whether another call of ``account`` (on any of its PBXs) with the same other party, ended no
    earlier than ``call`` (of ``pbx``), reached a person (answered, either direction) and was processed
    already."""
    query = (
        select(calls.c.call_id)
        .where(
            calls.c.account == account,
            calls.c.other_party == call.other_party[:64],
            calls.c.status == "answered",
            calls.c.direction != "internal",
            calls.c.ended_at >= call.ended_at,
            or_(calls.c.pbx != pbx, calls.c.call_id != call.call_id),
            calls.c.processed_at.is_not(None),
        )
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def count_calls(engine: Engine, since: datetime | None = None) -> int:
    query = select(func.count()).select_from(calls)
    if since is not None:
        query = query.where(calls.c.received_at >= since)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)
