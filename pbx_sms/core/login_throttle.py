"""Login throttling (pure; the clock is passed in): after 5 failed logins for one user name, or from one
address, within a minute, the next attempt is refused without checking the password, with the
seconds until one of those failures is more than a minute old (the HTTP Retry-After).

Both keys count: per user stops guessing one user's password from many addresses, per address stops
one client trying many user names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_FAILURES = 5
WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    """``retry_after_s`` None: try the password. Otherwise refuse, and say to come back in that many seconds."""

    retry_after_s: int | None

    @property
    def allowed(self) -> bool:
        return self.retry_after_s is None


def window_start(now: datetime, window_s: float = WINDOW_S) -> datetime:
    """Failures before this no longer count (and need not be kept)."""
    return now - timedelta(seconds=window_s)


def _retry_after_s(failures: Iterable[datetime], now: datetime, max_failures: int, window_s: float) -> int | None:
    recent = sorted(at for at in failures if (now - at).total_seconds() < window_s)
    if len(recent) < max_failures:
        return None
    # Attempts are allowed again once fewer than max_failures of them are in the window: when the
    # failure max_failures-th from the newest leaves it.
    leaves_at = recent[len(recent) - max_failures] + timedelta(seconds=window_s)
    return max(1, math.ceil((leaves_at - now).total_seconds()))


def check_login(
    user_failures: Iterable[datetime],
    address_failures: Iterable[datetime],
    now: datetime,
    *,
    max_failures: int = MAX_FAILURES,
    window_s: float = WINDOW_S,
) -> ThrottleDecision:
    """May a login for a user (its recent failures) from an address (its recent failures) be tried now?"""
    waits = [
        wait
        for wait in (
            _retry_after_s(user_failures, now, max_failures, window_s),
            _retry_after_s(address_failures, now, max_failures, window_s),
        )
        if wait is not None
    ]
    return ThrottleDecision(max(waits) if waits else None)
