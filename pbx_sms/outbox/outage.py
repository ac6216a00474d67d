"""The worker's database going away (pure): how long to wait before the next try, and what to log.

While the database is unreachable every claim, look-up and outcome write fails at once. Retried at
the worker's pace (a flush every 20 ms) with a traceback each, a 30 s outage wrote 142k log lines.
So failures back off (``OUTAGE_BACKOFF``, from ``pbx_sms.core.backoff``), and the outage is logged
once when it starts, at most once a minute while it lasts, and once when it ends. The clock and
the random source are passed in; the worker does the sleeping (``log_outage`` the logging).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pbx_sms.core.backoff import Backoff, Jitter, RandomSource
from pbx_sms.db.errors import is_database_outage

# Equal jitter: workers of several daemons sharing one PostgreSQL do not all come back at once, and
# no try comes sooner than half the ceiling. The cap bounds how late the SMS go once it is back.
OUTAGE_BACKOFF = Backoff(0.25, 5.0, Jitter.EQUAL)
REPORT_EVERY_S = 60.0
_ERROR_CHARS = 300


def describe_error(error: BaseException) -> str:
    """One line: the driver's own error if SQLAlchemy wraps one (its text repeats the whole SQL)."""
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split())
    if len(text) > _ERROR_CHARS:
        text = text[:_ERROR_CHARS] + "…"
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


@dataclass(frozen=True, slots=True)
class OutageLine:
    """A line to log: ``traceback`` only for the first failure that is not an outage (a bug)."""

    message: str
    traceback: bool = False


@dataclass
class DatabaseOutage:
    """The state of one worker's database trouble: failures since the last success."""

    backoff: Backoff = OUTAGE_BACKOFF
    report_every_s: float = REPORT_EVERY_S
    started_at: datetime | None = None
    failures: int = 0
    reported_at: datetime | None = None

    @property
    def ongoing(self) -> bool:
        return self.started_at is not None

    def failed(self, what: str, error: BaseException, now: datetime) -> OutageLine | None:
        """A try failed: the line to log now, if any."""
        self.failures += 1
        description = describe_error(error)
        if self.started_at is None:
            self.started_at = self.reported_at = now
            kind = "unreachable" if is_database_outage(error) else "failing"
            return OutageLine(
                f"database {kind}: {what} failed ({description}); retrying with backoff, "
                f"logged again every {self.report_every_s:g} s while it lasts",
                traceback=not is_database_outage(error),
            )
        assert self.reported_at is not None
        if (now - self.reported_at).total_seconds() < self.report_every_s:
            return None
        self.reported_at = now
        return OutageLine(
            f"database still failing after {self._lasted_s(now):.0f} s ({self.failures} failed tries); "
            f"last: {what} failed ({description})",
        )

    def succeeded(self, now: datetime) -> OutageLine | None:
        """A try worked: the line saying the outage ended, if there was one."""
        if self.started_at is None:
            return None
        line = OutageLine(
            f"database back after {self._lasted_s(now):.1f} s ({self.failures} failed tries)",
        )
        self.started_at = self.reported_at = None
        self.failures = 0
        return line

    def delay_s(self, rng: RandomSource) -> float:
        """How long to wait before the next try (0 when there is no outage)."""
        if self.failures == 0:
            return 0.0
        return self.backoff.delay_s(self.failures - 1, rng)

    def _lasted_s(self, now: datetime) -> float:
        assert self.started_at is not None
        return max((now - self.started_at).total_seconds(), 0.0)


def log_outage(log: logging.Logger, worker: str, line: OutageLine | None, error: BaseException | None) -> None:
    if line is not None:
        log.warning(
            "outbox worker %s: %s",
            worker,
            line.message,
            exc_info=error if line.traceback else None,
            extra={"worker": worker},
        )
