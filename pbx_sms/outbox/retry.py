"""Retry policy (pure): exponential backoff with full jitter, and what to do after a send."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from pbx_sms.gateways.base import SendResult


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay_s: float = 5.0
    max_delay_s: float = 600.0
    # Counted over claims, so a worker killed mid-send uses one up too.
    max_attempts: int = 10
    # From the SMS's original due time: an SMS older than this is stale, not worth sending.
    max_age_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("retry delays: expected 0 < base_delay_s <= max_delay_s")
        if self.max_attempts < 1:
            raise ValueError("max_attempts: expected at least 1")
        if self.max_age_s <= 0:
            raise ValueError("max_age_s: expected more than 0")


def next_retry_delay_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Delay before the retry that follows ``attempt`` (1 = the first send failed).

    Full jitter: uniform over [0, min(cap, base * 2^(attempt-1))], so workers that failed together
    (a gateway outage) do not come back together.
    """
    if attempt < 1:
        raise ValueError("attempt: expected 1 or more")
    # Bound the exponent: 2**1000 is a float overflow and the cap wins long before it anyway.
    ceiling_s = min(cap_s, base_s * 2.0 ** min(attempt - 1, 60))
    return rng.uniform(0.0, ceiling_s)


@dataclass(frozen=True, slots=True)
class MarkSent:
    message_id: str | None


@dataclass(frozen=True, slots=True)
class ScheduleRetry:
    due_at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: str


Decision = MarkSent | ScheduleRetry | GiveUp


def decide_after_send(
    result: SendResult,
    *,
    attempts: int,
    scheduled_at: datetime,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> Decision:
    """Sent → mark sent; permanent → fail at once; transient → retry unless attempts or age run out."""
    if result.outcome == "sent":
        return MarkSent(result.message_id)
    reason = result.reason or "no reason given"
    if result.outcome == "permanent":
        return GiveUp(f"permanent: {reason}")
    if attempts >= policy.max_attempts:
        return GiveUp(f"gave up after {attempts} attempts: {reason}")
    due_at = now + timedelta(seconds=next_retry_delay_s(attempts, policy.base_delay_s, policy.max_delay_s, rng))
    if (due_at - scheduled_at).total_seconds() > policy.max_age_s:
        return GiveUp(f"gave up after {attempts} attempts, older than {policy.max_age_s:g} s: {reason}")
    return ScheduleRetry(due_at, reason)
