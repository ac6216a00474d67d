"""Server-side browser sessions: the cookie carries a random id, the row its digest. Logout, idle and
absolute expiry delete the row, so a copied cookie stops working at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from pbx_sms.core.web_session import SessionLimits, SessionState, needs_touch, session_state
from pbx_sms.db.auth_tables import WebSessionRow
from pbx_sms.storage.credentials import NewSecret, plausible_secret, random_secret, secret_digest
from pbx_sms.storage.users import UserView, deleted_rows, enabled_user


def start_session(session: Session, user_id: int, now: datetime, *, new_secret: NewSecret = random_secret) -> str:
    """A new session for a logged-in user; returns the cookie value (stored nowhere)."""
    secret = new_secret()
    session.add(WebSessionRow(digest=secret_digest(secret), user_id=user_id, created_at=now, last_seen_at=now))
    session.flush()
    return secret


def check_session(session: Session, secret: str, now: datetime, limits: SessionLimits) -> UserView | None:
    """The user of a valid session (which now counts as used), or None: unknown, expired or ended, or
    its user disabled or removed. An expired session is deleted here."""
    if not plausible_secret(secret):
        return None
    row = session.scalar(select(WebSessionRow).where(WebSessionRow.digest == secret_digest(secret)))
    if row is None:
        return None
    user = enabled_user(session, row.user_id)
    if user is None or session_state(row.created_at, row.last_seen_at, now, limits) is not SessionState.ACTIVE:
        session.delete(row)
        session.flush()
        return None
    if needs_touch(row.last_seen_at, now):
        row.last_seen_at = now
        session.flush()
    return user


def end_session(session: Session, secret: str) -> bool:
    """Logout: the session is gone. Returns whether there was one."""
    if not plausible_secret(secret):
        return False
    return bool(deleted_rows(session, delete(WebSessionRow).where(WebSessionRow.digest == secret_digest(secret))))


def prune_sessions(session: Session, now: datetime, limits: SessionLimits) -> int:
    """Delete every expired session (keeps the table as small as the sessions in use)."""
    idle_cutoff = now - timedelta(seconds=limits.idle_s)
    max_cutoff = now - timedelta(seconds=limits.max_s)
    return deleted_rows(
        session,
        delete(WebSessionRow).where(
            or_(WebSessionRow.last_seen_at <= idle_cutoff, WebSessionRow.created_at <= max_cutoff)
        ),
    )
