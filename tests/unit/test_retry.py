"""Retry policy: exponential backoff with full jitter, and the decision after a send."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_sms.gateways.base import SendResult
from pbx_sms.outbox.retry import GiveUp, MarkSent, RetryPolicy, ScheduleRetry, decide_after_send, next_retry_delay_s

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_delay_s=2.0, max_delay_s=60.0, max_attempts=5, max_age_s=3600)


@given(attempt=st.integers(1, 10_000), seed=st.integers(0, 2**32))
def test_delay_stays_within_the_exponential_ceiling(attempt: int, seed: int) -> None:
    delay_s = next_retry_delay_s(attempt, 2.0, 60.0, random.Random(seed))
    assert 0.0 <= delay_s <= min(60.0, 2.0 * 2 ** min(attempt - 1, 60))


def test_ceiling_doubles_until_the_cap() -> None:
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [next_retry_delay_s(n, 1.0, 10.0, Top()) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_jitter_spreads_workers_that_failed_together() -> None:
    rng = random.Random(7)
    delays = [next_retry_delay_s(4, 2.0, 60.0, rng) for _ in range(200)]
    assert len({round(d, 3) for d in delays}) > 150
    assert min(delays) < 4.0 < 12.0 < max(delays)


def test_attempt_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="attempt"):
        next_retry_delay_s(0, 1.0, 10.0, random.Random(0))


def decide(result: SendResult, attempts: int, scheduled_at: datetime = NOW) -> object:
    return decide_after_send(
        result, attempts=attempts, scheduled_at=scheduled_at, now=NOW, policy=POLICY, rng=random.Random(1)
    )


def test_sent_is_marked_sent_with_the_message_id() -> None:
    assert decide(SendResult.sent("m-1"), 1) == MarkSent("m-1")


def test_permanent_fails_at_once_even_on_the_first_attempt() -> None:
    assert decide(SendResult.permanent("HTTP 400: invalid number"), 1) == GiveUp("permanent: HTTP 400: invalid number")


def test_transient_retries_within_the_ceiling() -> None:
    decision = decide(SendResult.transient("HTTP 503"), 3)
    assert isinstance(decision, ScheduleRetry)
    assert decision.error == "HTTP 503"
    assert NOW <= decision.due_at <= NOW + timedelta(seconds=8)


def test_transient_gives_up_after_the_last_attempt() -> None:
    decision = decide(SendResult.transient("timeout"), 5)
    assert decision == GiveUp("gave up after 5 attempts: timeout")


def test_transient_gives_up_when_the_retry_would_be_too_old() -> None:
    decision = decide(SendResult.transient("timeout"), 2, scheduled_at=NOW - timedelta(seconds=3600))
    assert isinstance(decision, GiveUp)
    assert "older than 3600 s" in decision.reason


@pytest.mark.parametrize(
    "kwargs",
    [{"base_delay_s": 0}, {"base_delay_s": 10, "max_delay_s": 5}, {"max_attempts": 0}, {"max_age_s": 0}],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
