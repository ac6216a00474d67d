"""Daemon heartbeats (written by `pbx-sms run`) and the report `pbx-sms status` prints."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.db.status_table import status_table

HEARTBEAT_INTERVAL_S = 2.0
# A heartbeat older than this means the daemon is gone (killed, host down).
STALE_AFTER_S = 10.0
# Stopped daemons' rows are kept this long so `status` can say when and how they ended.
KEEP_STOPPED = timedelta(days=7)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def write_heartbeat(
    engine: Engine,
    instance: str,
    pbx: str,
    started_at: datetime,
    ami_state: str,
    details: dict[str, Any],
    now: datetime,
    stopped: bool = False,
) -> None:
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    values = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pbx": pbx,
        "started_at": started_at,
        "updated_at": now,
        "stopped_at": now if stopped else None,
        "ami_state": ami_state,
        "details": json.dumps(details, default=str),
    }
    statement = (
        dialect_insert(status_table)
        .values(instance=instance, **values)
        .on_conflict_do_update(index_elements=["instance"], set_=values)
    )
    with engine.begin() as conn:
        conn.execute(statement)
        conn.execute(delete(status_table).where(status_table.c.stopped_at < now - KEEP_STOPPED))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def read_status(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    """Everything `pbx-sms status` shows, as plain JSON-ready data."""
    now = now or datetime.now(UTC)
    calls = calls_table
    with engine.connect() as conn:
        daemons = []
        for row in conn.execute(select(status_table).order_by(status_table.c.started_at.desc())).mappings():
            age_s = (now - row["updated_at"]).total_seconds()
            if row["stopped_at"] is not None:
                state = "stopped"
            elif row["host"] == socket.gethostname() and not _process_alive(row["pid"]):
                state = "gone (process ended without stopping: killed or crashed)"
            elif age_s > STALE_AFTER_S:
                state = "not responding"
            else:
                state = "running"
            daemons.append(
                {
                    "instance": row["instance"],
                    "pbx": row["pbx"],
                    "host": row["host"],
                    "state": state,
                    "started_at": row["started_at"].isoformat(),
                    "last_seen_at": row["updated_at"].isoformat(),
                    "heartbeat_age_s": round(age_s, 1),
                    "ami_state": row["ami_state"],
                    **json.loads(row["details"]),
                }
            )
        outbox = {
            status: count
            for status, count in conn.execute(
                select(outbox_table.c.status, func.count()).group_by(outbox_table.c.status)
            )
        }
        calls_total = conn.execute(select(func.count()).select_from(calls)).scalar() or 0
        by_evidence = {
            evidence: count
            for evidence, count in conn.execute(select(calls.c.evidence, func.count()).group_by(calls.c.evidence))
        }
        by_pbx = {pbx: count for pbx, count in conn.execute(select(calls.c.pbx, func.count()).group_by(calls.c.pbx))}
        calls_day = (
            conn.execute(
                select(func.count()).select_from(calls).where(calls.c.received_at >= now - timedelta(days=1))
            ).scalar()
            or 0
        )
        last_error = (
            conn.execute(
                select(
                    outbox_table.c.id, outbox_table.c.recipient, outbox_table.c.last_error, outbox_table.c.updated_at
                )
                .where(outbox_table.c.last_error.is_not(None))
                .order_by(outbox_table.c.updated_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return {
        "daemons": daemons,
        "calls": {"total": calls_total, "last_24h": calls_day, "by_evidence": by_evidence, "by_pbx": by_pbx},
        "outbox": outbox,
        "last_send_error": None
        if last_error is None
        else {
            "sms_id": last_error["id"],
            "to": last_error["recipient"],
            "error": last_error["last_error"],
            "at": last_error["updated_at"].isoformat(),
        },
    }
