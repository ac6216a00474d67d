"""Writing and reading the call log: one row per call, its truth the best of the views reported.

A call may be reported twice (the AGI hook and the AMI listener): the first report inserts the row; a
second one from another source becomes the truth when its evidence is better (pbx_sms.core.views), the
other view kept in ``other_view`` either way, and ``views_disagree`` says whether they differed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.views import HOOK_EVIDENCE, is_better_view, views_disagree
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import SQLITE_BEGIN_OPTION

calls = calls_table

# The columns that hold a view of the call (the truth); the rest is the row's own bookkeeping.
_VIEW_COLUMNS = ("direction", "number", "other_party", "status", "talk_s", "started_at", "ended_at", "evidence")


@dataclass(frozen=True, slots=True)
class RecordedViews:
    """What one batch of reports did to the call log."""

    # First reports: new rows.
    new: list[CompletedCall] = field(default_factory=list)
    # Better than the truth they replaced: processed again, re-planning the call's SMS.
    replaced: list[CompletedCall] = field(default_factory=list)
    # Second views no better than the truth: only recorded beside it.
    kept: list[CompletedCall] = field(default_factory=list)
    # The same source reported the call again: nothing changed.
    duplicates: list[CompletedCall] = field(default_factory=list)
    # Second views (replaced or kept) that disagree with the other view.
    disagreed: list[CompletedCall] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A call to process; ``replan``: a better view replaced one that may have queued SMS already."""

    call: CompletedCall
    replan: bool = False


def record_views(
    engine: Engine,
    completed: Sequence[CompletedCall],
    pbx: str,
    source: str,
    now: datetime,
    *,
    first_reports_only: bool = False,
) -> RecordedViews:
    """Store the reports of calls of ``pbx`` by ``source`` in one transaction (see the module's doc).

    ``first_reports_only``: add new calls, leave a call reported before as it is (the spawned hook, whose
    database role may add calls but not change them: deploy/pbx-sms-agi-role.sql)."""
    result = RecordedViews()
    if not completed:
        return result
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    firsts: dict[str, CompletedCall] = {}
    for call in completed:
        if call.call_id in firsts:
            result.duplicates.append(call)  # one source, one call, one batch: the first report counts
        else:
            firsts[call.call_id] = call
    statement = (
        dialect_insert(calls).on_conflict_do_nothing(index_elements=["pbx", "call_id"]).returning(calls.c.call_id)
    )
    # One microsecond apart: calls are processed oldest first, and within a batch the order they were
    # completed in decides which of two calls to one number a minimum interval lets through.
    rows = [_row(call, pbx, source, now + timedelta(microseconds=i)) for i, call in enumerate(firsts.values())]
    with engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as conn:
        new_ids = set(conn.execute(statement, rows).scalars())
        result.new.extend(call for call in firsts.values() if call.call_id in new_ids)
        seconds = [call for call in firsts.values() if call.call_id not in new_ids]
        if first_reports_only:
            result.duplicates.extend(seconds)
        elif seconds:
            _merge(conn, seconds, pbx, source, now, result)
    return result


def _merge(
    conn: Connection, seconds: Sequence[CompletedCall], pbx: str, source: str, now: datetime, result: RecordedViews
) -> None:
    query = select(calls).where(calls.c.pbx == pbx, calls.c.call_id.in_([call.call_id for call in seconds]))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # a concurrent second view of the same call waits for this one
    existing = {row["call_id"]: row for row in conn.execute(query).mappings()}
    replacing: list[dict[str, Any]] = []
    keeping: list[dict[str, Any]] = []
    for call in seconds:
        row = existing[call.call_id]
        if row["source"] == source:
            result.duplicates.append(call)
            continue
        current = call_of_row(row)
        truth = _row(call, pbx, source, now)
        # Compared as stored (numbers cut to the columns' sizes), so a long caller ID is no disagreement.
        disagree = views_disagree(current, call_of_row(truth))
        key = {"b_pbx": pbx, "b_call_id": call.call_id, "b_disagree": bool(row["views_disagree"]) or disagree}
        if is_better_view(call, current):
            other = view_json(current, str(row["source"]), row["received_at"])
            replacing.append({**key, **{f"b_{name}": truth[name] for name in _REPLACED}, "b_other_view": other})
            result.replaced.append(call)
        else:
            keeping.append({**key, "b_other_view": view_json(call, source, now)})
            result.kept.append(call)
        if disagree:
            result.disagreed.append(call)
    # One executemany each: a burst of second views is two statements, not one per call.
    if replacing:
        conn.execute(_REPLACE_TRUTH, replacing)
    if keeping:
        conn.execute(_KEEP_BESIDE, keeping)


# What a better view replaces: the view's columns and who reported it.
_REPLACED = (*_VIEW_COLUMNS, "source")
_OF_CALL = (calls.c.pbx == bindparam("b_pbx")) & (calls.c.call_id == bindparam("b_call_id"))
_REPLACE_TRUTH = (
    update(calls)
    .where(_OF_CALL)
    .values(
        {
            **{name: bindparam(f"b_{name}", type_=calls.c[name].type) for name in _REPLACED},
            "other_view": bindparam("b_other_view"),
            "views_disagree": bindparam("b_disagree"),
            "replan": True,
            "processed_at": None,
        }
    )
)
_KEEP_BESIDE = (
    update(calls).where(_OF_CALL).values(other_view=bindparam("b_other_view"), views_disagree=bindparam("b_disagree"))
)


def view_json(call: CompletedCall, source: str, received_at: datetime) -> str:
    """One view of a call as kept in ``calls.other_view``."""
    return json.dumps({"source": source, **call.to_json(), "received_at": received_at.isoformat()}, ensure_ascii=False)


def record_calls(
    engine: Engine, completed: Sequence[CompletedCall], pbx: str, source: str, now: datetime
) -> list[CompletedCall]:
    """``record_views``, returning the calls that were new (the others were reported before, by AMI or AGI)."""
    return record_views(engine, completed, pbx, source, now).new


def record_call(
    engine: Engine, call: CompletedCall, pbx: str, source: str, now: datetime, *, first_report_only: bool = False
) -> bool:
    """Store ``call`` (a first report, or a second view of it unless ``first_report_only``); True when it was new."""
    return bool(record_views(engine, [call], pbx, source, now, first_reports_only=first_report_only).new)


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


def mark_processed(
    engine: Engine, pbx: str, call_id: str, account: str | None, now: datetime, *, evidence: str | None = None
) -> bool:
    """Mark the call processed; with ``evidence`` (that of the view processed) only while the call's truth
    still has it: False (left for the next round) when a better view replaced it meanwhile."""
    where = [calls.c.pbx == pbx, calls.c.call_id == call_id]
    if evidence is not None:
        where.append(calls.c.evidence == evidence)
    with engine.begin() as conn:
        result = conn.execute(update(calls).where(*where).values(processed_at=now, account=account, replan=False))
    return bool(result.rowcount)


def pending_calls(
    engine: Engine, pbx: str, limit: int = 100, hook_hold_since: datetime | None = None
) -> list[PendingCall]:
    """Calls of ``pbx`` recorded but not yet matched against the rules (recorded in a batch by the
    daemon, by the AGI hook, or before a crash), oldest first. Calls known only from a hangup hook and
    recorded after ``hook_hold_since`` are left out: they wait for the AMI tracker's view."""
    query = select(calls).where(calls.c.processed_at.is_(None), calls.c.pbx == pbx)
    if hook_hold_since is not None:
        query = query.where(or_(calls.c.evidence.not_in(sorted(HOOK_EVIDENCE)), calls.c.received_at <= hook_hold_since))
    query = query.order_by(calls.c.received_at, calls.c.ended_at, calls.c.call_id).limit(limit)
    with engine.connect() as conn:
        return [PendingCall(call_of_row(row), bool(row["replan"])) for row in conn.execute(query).mappings()]


def unprocessed_calls(engine: Engine, pbx: str, limit: int = 100) -> list[CompletedCall]:
    """The calls of ``pending_calls`` (none held back)."""
    return [pending.call for pending in pending_calls(engine, pbx, limit)]


def call_of_row(row: Mapping[Any, Any]) -> CompletedCall:
    return CompletedCall(
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
