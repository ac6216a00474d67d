"""What a database error means for the work that hit it (pure): one decision, used wherever calls are retried."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError


def is_database_outage(error: BaseException) -> bool:
    """True when the database is away rather than the work at fault: retry for as long as the outage lasts.

    The drivers raise OperationalError for what passes by itself (connection refused or lost, server
    shutting down, SQLite's "database is locked"); any other error would come back on every retry.
    """
    return isinstance(error, OperationalError)
