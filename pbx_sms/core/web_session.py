"""When a browser session of `pbx-sms web` ends (pure; the clock is passed in).

A session ends after ``idle_s`` without a request (a forgotten tab on a shared PC) and ``max_s`` after
its login whatever happens (a stolen cookie stops working by then even if it is used all the time).
Settings PBX_SMS_WEB_SESSION_IDLE_S and PBX_SMS_WEB_SESSION_MAX_S.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SessionState(StrEnum):
    ACTIVE = "active"
    IDLE_EXPIRED = "idle_expired"
    ABSOLUTE_EXPIRED = "absolute_expired"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    idle_s: float
    max_s: float

    def __post_init__(self) -> None:
        if not self.idle_s > 0 or not self.max_s > 0:
            raise ValueError("session limits: idle_s and max_s must be more than 0")


def session_state(created_at: datetime, last_seen_at: datetime, now: datetime, limits: SessionLimits) -> SessionState:
    """Whether a session created at ``created_at`` and last used at ``last_seen_at`` is still valid at ``now``.

    Exactly at a limit the session has ended (a limit of 1800 s allows 1799.9 s, not 1800).
    """
    if (now - created_at).total_seconds() >= limits.max_s:
        return SessionState.ABSOLUTE_EXPIRED
    if (now - last_seen_at).total_seconds() >= limits.idle_s:
        return SessionState.IDLE_EXPIRED
    return SessionState.ACTIVE


# A session's last_seen_at (and a token's last_used_at) is written at most this often: a request
# within a minute of the last write is then a read-only transaction, not a commit (a commit per
# request costs ~10 ms on PostgreSQL, bench/auth.py). The idle limit may thus end a session up to
# this much early.
TOUCH_RESOLUTION_S = 60.0


def needs_touch(last_written_at: datetime | None, now: datetime, resolution_s: float = TOUCH_RESOLUTION_S) -> bool:
    """Whether a use at ``now`` is worth writing down, given the last time one was."""
    return last_written_at is None or (now - last_written_at).total_seconds() >= resolution_s


# Methods that change nothing (RFC 9110 "safe"): a browser request with one needs no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_required(method: str, by_session: bool) -> bool:
    """Whether a request must carry the session's CSRF token: a state-changing request authenticated by
    the session cookie (which a browser sends along to any site's form). A bearer token is never sent
    by the browser on its own, so token-authenticated calls are exempt."""
    return by_session and method.upper() not in SAFE_METHODS
