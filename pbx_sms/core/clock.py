"""The one wall clock of pbx-sms: code that decides takes ``now`` as an argument; only the I/O edges call this."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
