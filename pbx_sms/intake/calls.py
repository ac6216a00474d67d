"""Writing and reading the call log (first report of a call wins)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pbx_sms.core.call import CompletedCall
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION

calls = calls_table


def record_call(engine: Engine, call: CompletedCall, source: str, now: datetime) -> bool:
    """Store ``call`` unless a report of the same call id is already there; True when it was new."""
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(calls)
        .values(
            call_id=call.call_id,
            direction=call.direction,
            number=call.number[:16] if call.number else None,
            other_party=call.other_party[:64],
            status=call.status,
            talk_s=call.talk_s,
            started_at=call.started_at,
            ended_at=call.ended_at,
            source=source,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(calls.c.call_id)
    )
    with engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as conn:
        return conn.execute(statement).scalar() is not None


def mark_processed(engine: Engine, call_id: str, account: str | None, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(calls).where(calls.c.call_id == call_id).values(processed_at=now, account=account))


def unprocessed_calls(engine: Engine, limit: int = 100) -> list[CompletedCall]:
    """Calls reported but not yet matched against the rules (from the AGI hook, or a crash)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(calls).where(calls.c.processed_at.is_(None)).order_by(calls.c.received_at).limit(limit)
        ).mappings()
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
            )
            for row in rows
        ]


def reached_person_since(engine: Engine, account: str, call: CompletedCall) -> bool:
    """Whether another call of ``account`` with the same other party, ended no earlier than ``call``,
    reached a person (answered, either direction) and was processed already."""
    query = (
        select(calls.c.call_id)
        .where(
            calls.c.account == account,
            calls.c.other_party == call.other_party[:64],
            calls.c.status == "answered",
            calls.c.direction != "internal",
            calls.c.ended_at >= call.ended_at,
            calls.c.call_id != call.call_id,
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
