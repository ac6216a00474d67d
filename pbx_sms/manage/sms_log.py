"""The SMS log as the API pages it: filters, an opaque keyset cursor, one SMS with its call.

The rows come from the outbox store's own query (``Outbox.log``, also behind `pbx-sms log`); here
only what paging adds: a cursor that names the last row shown, so rows inserted between two pages
never shift or repeat the later ones.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pbx_sms.core.bounds import fits_bigint
from pbx_sms.db.calls_table import calls_table
from pbx_sms.outbox.flow import Outbox
from pbx_sms.outbox.model import LogPosition, LogQuery, OutboxRow
from pbx_sms.storage.errors import InvalidValue

CURSOR_FIELD = "cursor"


def encode_cursor(row: OutboxRow) -> str:
    """The cursor after ``row``: opaque to clients (base64url of its created_at and id)."""
    position = f"{row.created_at.astimezone(UTC).isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(position.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> LogPosition:
    """A cursor from ``encode_cursor`` → the position it names; anything else is an InvalidValue."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        at, row_id = text.split("|")
        created_at, sms_id = datetime.fromisoformat(at), int(row_id)
        if created_at.tzinfo is not None:
            created_at = created_at.astimezone(UTC)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidValue(
            "cursor: not a cursor of this log (pass next_cursor of the previous page unchanged)", field=CURSOR_FIELD
        ) from None
    if created_at.tzinfo is None or not fits_bigint(sms_id):
        raise InvalidValue("cursor: not a cursor of this log", field=CURSOR_FIELD)
    return LogPosition(created_at, sms_id)


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[OutboxRow]
    next_cursor: str | None


def log_page(outbox: Outbox, query: LogQuery, limit: int, cursor: str | None) -> LogPage:
    """Up to ``limit`` rows of ``query`` after ``cursor``, newest first, and the cursor of the next page
    (None on the last one)."""
    after = decode_cursor(cursor) if cursor is not None else None
    rows = outbox.log(replace(query, after=after, limit=limit + 1))
    if len(rows) <= limit:
        return LogPage(rows, None)
    return LogPage(rows[:limit], encode_cursor(rows[limit - 1]))


@dataclass(frozen=True, slots=True)
class CallSummary:
    """The call an SMS came from, as the call log has it (its best view)."""

    pbx: str
    call_id: str
    direction: str
    status: str
    talk_s: int
    number: str | None
    other_party: str
    started_at: datetime
    ended_at: datetime
    evidence: str


def call_of(session: Session, row: OutboxRow) -> CallSummary | None:
    """The call of an SMS; None once pruned from the call log (the SMS log keeps longer)."""
    calls = calls_table
    found = (
        session.execute(select(calls).where(calls.c.pbx == row.pbx, calls.c.call_id == row.call_id)).mappings().first()
    )
    if found is None:
        return None
    return CallSummary(
        pbx=found["pbx"],
        call_id=found["call_id"],
        direction=found["direction"],
        status=found["status"],
        talk_s=found["talk_s"],
        number=found["number"],
        other_party=found["other_party"],
        started_at=found["started_at"],
        ended_at=found["ended_at"],
        evidence=found["evidence"],
    )


def sms_of_account(outbox: Outbox, account_id: int, sms_id: int) -> OutboxRow | None:
    """The SMS ``sms_id`` if it is this account's; another account's is not found, like a missing one."""
    row = outbox.get(sms_id)
    return row if row is not None and row.account_id == account_id else None
