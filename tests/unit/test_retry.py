"""Retry policy: the outcome of a send, with exponential backoff and full jitter between attempts."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_sms.core.sms_status import Status
from pbx_sms.gateways.base import SendResult
from pbx_sms.outbox.model import Failed, OutboxRow, RetryLater, Sent
from pbx_sms.outbox.retry import RetryPolicy, decide_after_send

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(base_delay_s=2.0, max_delay_s=60.0, max_attempts=5, max_age_s=3600)
ROW = OutboxRow(
    id=7,
    idempotency_key="0b5c9a5e-4f43-4b53-9d7e-3f0c1b2a6d11",
    account_id=1,
    rule_id=1,
    rule_name="Missed call",
    call_id="c1",
    other_party="+48601000001",
    call_ended_at=NOW,
    to="+48601000001",
    sender="ACME",
    text="Oddzwonimy",
    encoding="GSM-7",
    parts=1,
    to_other_party=True,
    min_interval_s=0,
    cancel_on_reach=True,
    status=Status.SENDING,
    reason=None,
    scheduled_at=NOW,
    due_at=NOW,
    attempts=1,
    locked_by="w1",
    locked_until=NOW + timedelta(seconds=30),
    last_attempt_at=NOW,
    last_error=None,
    gateway=None,
    message_id=None,
    created_at=NOW,
    updated_at=NOW,
)
NO_AGE_LIMIT = RetryPolicy(base_delay_s=2.0, max_delay_s=60.0, max_attempts=100_000, max_age_s=1e12)


def decide(
    result: SendResult,
    attempts: int,
    *,
    scheduled_at: datetime = NOW,
    policy: RetryPolicy = POLICY,
    rng: random.Random | None = None,
) -> Sent | RetryLater | Failed:
    row = replace(ROW, attempts=attempts, scheduled_at=scheduled_at)
    return decide_after_send(row, result, "http", now=NOW, policy=policy, rng=rng or random.Random(1))


@given(attempts=st.integers(1, 10_000), seed=st.integers(0, 2**32))
def test_the_delay_is_exactly_the_old_uniform_draw_within_the_exponential_ceiling(attempts: int, seed: int) -> None:
    outcome = decide(SendResult.transient("HTTP 503"), attempts, policy=NO_AGE_LIMIT, rng=random.Random(seed))
    assert isinstance(outcome, RetryLater)
    ceiling_s = min(60.0, 2.0 * 2 ** min(attempts - 1, 60))
    # What the policy drew before it used core.backoff: the same numbers for the same random source.
    assert outcome.due_at == NOW + timedelta(seconds=random.Random(seed).uniform(0.0, ceiling_s))
    assert NOW <= outcome.due_at <= NOW + timedelta(seconds=ceiling_s)


def test_the_ceiling_doubles_until_the_cap() -> None:
    class Top(random.Random):
        def random(self) -> float:
            return 1.0

    delays_s = []
    for attempts in range(1, 7):
        outcome = decide(SendResult.transient("timeout"), attempts, policy=NO_AGE_LIMIT, rng=Top())
        assert isinstance(outcome, RetryLater)
        delays_s.append((outcome.due_at - NOW).total_seconds())
    assert delays_s == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0]


def test_jitter_spreads_workers_that_failed_together() -> None:
    rng = random.Random(7)
    outcomes = [decide(SendResult.transient("HTTP 503"), 4, rng=rng) for _ in range(200)]
    delays_s = [(outcome.due_at - NOW).total_seconds() for outcome in outcomes if isinstance(outcome, RetryLater)]
    assert len({round(d, 3) for d in delays_s}) > 150
    assert min(delays_s) < 4.0 < 12.0 < max(delays_s)


def test_sent_is_marked_sent_with_the_gateway_and_message_id() -> None:
    assert decide(SendResult.sent("m-1"), 1) == Sent(ROW.id, "http", "m-1")


def test_permanent_fails_at_once_even_on_the_first_attempt() -> None:
    outcome = decide(SendResult.permanent("HTTP 400: invalid number"), 1)
    assert outcome == Failed(ROW.id, "permanent: HTTP 400: invalid number")


def test_transient_retries_within_the_ceiling() -> None:
    outcome = decide(SendResult.transient("HTTP 503"), 3)
    assert isinstance(outcome, RetryLater)
    assert (outcome.row_id, outcome.error) == (ROW.id, "HTTP 503")
    assert NOW <= outcome.due_at <= NOW + timedelta(seconds=8)


def test_transient_gives_up_after_the_last_attempt() -> None:
    assert decide(SendResult.transient("timeout"), 5) == Failed(ROW.id, "gave up after 5 attempts: timeout")


def test_transient_gives_up_when_the_retry_would_be_too_old() -> None:
    outcome = decide(SendResult.transient("timeout"), 2, scheduled_at=NOW - timedelta(seconds=3600))
    assert isinstance(outcome, Failed)
    assert "older than 3600 s" in outcome.reason


@pytest.mark.parametrize(
    "kwargs",
    [{"base_delay_s": 0}, {"base_delay_s": 10, "max_delay_s": 5}, {"max_attempts": 0}, {"max_age_s": 0}],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_an_unclear_result_keeps_the_row_unclear_from_that_attempt() -> None:
    outcome = decide_after_send(
        ROW, SendResult.unclear("no answer, outcome unknown"), "http", now=NOW, policy=POLICY, rng=random.Random(1)
    )
    assert isinstance(outcome, RetryLater)
    assert (outcome.status, outcome.unclear_since) == (Status.UNCLEAR, ROW.last_attempt_at)


def test_a_later_attempt_that_clearly_did_not_go_out_leaves_the_earlier_one_unclear() -> None:
    earlier = NOW - timedelta(minutes=3)
    unclear_row = replace(ROW, unclear_since=earlier, attempts=2)
    outcome = decide_after_send(
        unclear_row, SendResult.transient("connection refused"), "http", now=NOW, policy=POLICY, rng=random.Random(1)
    )
    assert isinstance(outcome, RetryLater)
    assert (outcome.status, outcome.unclear_since) == (Status.UNCLEAR, earlier)


def test_a_transient_result_of_a_clear_row_is_queued() -> None:
    outcome = decide_after_send(
        ROW, SendResult.transient("connection refused"), "http", now=NOW, policy=POLICY, rng=random.Random(1)
    )
    assert isinstance(outcome, RetryLater) and (outcome.status, outcome.unclear_since) == (Status.QUEUED, None)
