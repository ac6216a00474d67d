"""Retry policy (pure): what a send's result means for its row: sent, retried later or failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pbx_sms.core.backoff import Backoff, Jitter, RandomSource
from pbx_sms.gateways.base import SendResult
from pbx_sms.outbox.model import Failed, OutboxRow, RetryLater, Sent


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

    @property
    def backoff(self) -> Backoff:
        # Full jitter: workers that failed together (a gateway outage) do not come back together.
        return Backoff(self.base_delay_s, self.max_delay_s, Jitter.FULL)


def decide_after_send(
    row: OutboxRow,
    result: SendResult,
    gateway: str,
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: RandomSource,
) -> Sent | RetryLater | Failed:
    """Sent → sent; permanent → failed at once; transient and unclear → retried unless attempts or age
    run out. Once an attempt was unclear the row stays unclear (counted as sent by the limits) until it
    is sent or given up: a later attempt that clearly did not go out says nothing about the earlier one."""
    if result.outcome == "sent":
        return Sent(row.id, gateway, result.message_id)
    reason = result.reason or "no reason given"
    if result.outcome == "permanent":
        return Failed(row.id, f"permanent: {reason}")
    unclear_since = row.unclear_since
    if unclear_since is None and result.outcome == "unclear":
        unclear_since = row.last_attempt_at or now
    if row.attempts >= policy.max_attempts:
        return Failed(row.id, f"gave up after {row.attempts} attempts: {reason}")
    # Attempt n (1-based) has failed: the wait before the next one is retry n-1 of the backoff.
    due_at = now + timedelta(seconds=policy.backoff.delay_s(row.attempts - 1, rng))
    if (due_at - row.scheduled_at).total_seconds() > policy.max_age_s:
        return Failed(row.id, f"gave up after {row.attempts} attempts, older than {policy.max_age_s:g} s: {reason}")
    return RetryLater(row.id, due_at, reason, unclear_since)
