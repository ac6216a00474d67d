"""Login throttling and browser session expiry (pure, with a fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pbx_sms.core.login_throttle import MAX_FAILURES, WINDOW_S, check_login
from pbx_sms.core.web_session import SessionLimits, SessionState, csrf_required, needs_touch, session_state

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- throttling ----------------------------------------------------------------------------------


def test_the_rule_is_five_failures_a_minute() -> None:
    assert (MAX_FAILURES, WINDOW_S) == (5, 60.0)


def test_four_failures_still_allow_a_try() -> None:
    assert check_login([at(0), at(1), at(2), at(3)], [], at(4)).allowed


def test_five_failures_for_one_user_refuse_until_the_oldest_is_a_minute_old() -> None:
    failures = [at(0), at(10), at(20), at(30), at(40)]
    decision = check_login(failures, [], at(45))
    assert decision.retry_after_s == 15  # at(60) the failure at(0) leaves the window
    assert check_login(failures, [], at(59.5)).retry_after_s == 1  # rounded up, never 0
    assert check_login(failures, [], at(60)).allowed


def test_five_failures_from_one_address_refuse_too_whatever_the_user() -> None:
    assert check_login([], [at(0)] * 5, at(1)).retry_after_s == 59


def test_the_longer_wait_of_user_and_address_wins() -> None:
    user = [at(0)] * 5
    address = [at(30)] * 5
    assert check_login(user, address, at(31)).retry_after_s == 59


def test_with_more_failures_the_wait_lasts_until_only_four_are_left() -> None:
    failures = [at(second) for second in range(0, 70, 10)]  # 0..60, seven of them
    # At 65: 10..60 are in the window (six); allowed again once 10 and 20 have left, at 80.
    assert check_login(failures, [], at(65)).retry_after_s == 15


def test_old_failures_do_not_count() -> None:
    assert check_login([at(0)] * 20, [at(0)] * 20, at(61)).allowed


# --- session expiry ------------------------------------------------------------------------------

LIMITS = SessionLimits(idle_s=1800, max_s=43200)


def test_a_session_in_use_is_active() -> None:
    assert session_state(at(0), at(100), at(1000), LIMITS) is SessionState.ACTIVE


def test_idle_for_the_idle_limit_ends_it() -> None:
    assert session_state(at(0), at(0), at(1799.9), LIMITS) is SessionState.ACTIVE
    assert session_state(at(0), at(0), at(1800), LIMITS) is SessionState.IDLE_EXPIRED


def test_the_absolute_limit_ends_a_session_used_all_the_time() -> None:
    assert session_state(at(0), at(43199), at(43199.5), LIMITS) is SessionState.ACTIVE
    assert session_state(at(0), at(43199), at(43200), LIMITS) is SessionState.ABSOLUTE_EXPIRED


@pytest.mark.parametrize(("idle_s", "max_s"), [(0, 10), (10, 0), (-1, 10)])
def test_limits_must_be_positive(idle_s: float, max_s: float) -> None:
    with pytest.raises(ValueError, match="more than 0"):
        SessionLimits(idle_s, max_s)


def test_a_use_is_written_down_at_most_once_a_minute() -> None:
    assert needs_touch(None, at(0))
    assert not needs_touch(at(0), at(59.9))
    assert needs_touch(at(0), at(60))


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "put", "PATCH", "DELETE"])
def test_a_state_changing_browser_request_needs_the_csrf_token(method: str) -> None:
    assert csrf_required(method, by_session=True)
    assert not csrf_required(method, by_session=False)  # bearer tokens are exempt


@pytest.mark.parametrize("method", ["GET", "head", "OPTIONS"])
def test_safe_methods_need_none(method: str) -> None:
    assert not csrf_required(method, by_session=True)
