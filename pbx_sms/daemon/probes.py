"""Bounded database look-ups for /health and /metrics, and for waiting out an outage at start-up.

Each runs in a daemon thread with a deadline: a database that hangs (a host that drops packets) costs a
scrape its database series and makes /health say so, it never blocks the event loop, a shutdown, or piles
up threads (a probe still running is not started again; the caller gets ``ProbeBusy``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import FINAL_STATUSES, Status
from pbx_sms.db.engine import limit_statement_time
from pbx_sms.db.outbox_table import outbox_table

T = TypeVar("T")

PROBE_TIMEOUT_S = 2.0
# Failure reasons are free text (the gateway's words): only their kind becomes a label value.
REASON_PERMANENT = "permanent"
REASON_GAVE_UP = "gave_up"
REASON_OTHER = "other"
REASON_NONE = "none"


class ProbeBusy(Exception):
    """The previous probe of this kind has not returned yet (the database hangs)."""


async def in_daemon_thread(work: Callable[[], T], timeout_s: float | None) -> T:
    """``work()`` in a thread of its own that exit does not wait for; TimeoutError after ``timeout_s``
    (None: no deadline)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def body() -> None:
        try:
            value = work()
        except BaseException as exc:
            # The loop may be closed when a hung probe finally returns: then nobody waits for it.
            with _closed_loop_ignored():
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with _closed_loop_ignored():
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=body, name="pbx-sms-probe", daemon=True).start()
    async with asyncio.timeout(timeout_s):
        return await future


class _closed_loop_ignored:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> bool:
        return kind is RuntimeError


class Probe(Generic[T]):
    """One kind of look-up, at most one in flight."""

    def __init__(self, work: Callable[[], T], timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self._work = work
        self.timeout_s = timeout_s
        self._running = False

    async def __call__(self) -> T:
        if self._running:
            raise ProbeBusy(f"the previous query has not returned after {self.timeout_s:g} s")
        self._running = True

        def work() -> T:
            try:
                return self._work()
            finally:
                # In the probe's thread: a timed-out probe keeps the next one off until it returns.
                self._running = False

        return await in_daemon_thread(work, self.timeout_s)


def database_answers(engine: Engine, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    with engine.begin() as conn:
        limit_statement_time(conn, timeout_s)
        conn.execute(text("SELECT 1"))
    return True


# Done-with SMS are counted over a window, not the whole SMS log (kept for months until pruned): the
# look-up then costs a day's traffic, through the created_at index, whatever the log's size.
FINAL_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """SMS still to send, by status (depth), and those queued in the last FINAL_WINDOW that are done
    with, by final status and reason kind."""

    depth: dict[str, int]
    final: dict[tuple[str, str], int]


_KNOWN_REASONS = frozenset(reason.value for reason in Reason)


def reason_kind(reason: str | None) -> str:
    """Suppression and cancellation reasons as they are (a fixed vocabulary); failures by kind only."""
    if reason is None:
        return REASON_NONE
    if reason in _KNOWN_REASONS:
        return reason
    if reason.startswith("permanent:"):
        return REASON_PERMANENT
    if reason.startswith("gave up"):
        return REASON_GAVE_UP
    return REASON_OTHER


def outbox_counts(engine: Engine, now: datetime, timeout_s: float = PROBE_TIMEOUT_S) -> OutboxCounts:
    table = outbox_table
    open_statuses = [status.value for status in Status if status not in FINAL_STATUSES]
    depth_query = select(table.c.status, func.count()).where(table.c.status.in_(open_statuses)).group_by(table.c.status)
    # The day's rows through the created_at index, grouped here: in SQL, SQLite's planner walks the whole
    # log in status order for the GROUP BY instead (100k rows: 160 ms rather than a day's few ms).
    final_query = select(table.c.status, table.c.reason).where(table.c.created_at >= now - FINAL_WINDOW)
    depth = dict.fromkeys(open_statuses, 0)
    final: dict[tuple[str, str], int] = {}
    with engine.begin() as conn:
        limit_statement_time(conn, timeout_s)
        for status, count in conn.execute(depth_query):
            depth[status] = count
        for status, reason in conn.execute(final_query):
            if status in FINAL_STATUSES:
                key = (status, reason_kind(reason))
                final[key] = final.get(key, 0) + 1
    return OutboxCounts(depth, final)
