"""The worker's database outage (pbx_sms.outbox.outage): backoff and what is logged when, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import OperationalError, ProgrammingError

from pbx_sms.outbox.outage import OUTAGE_BACKOFF, DatabaseOutage, describe_error

T0 = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
REFUSED = OperationalError("SELECT 1", {}, Exception('connection to server at "db" failed:\n  Connection refused'))


class Half:
    def random(self) -> float:
        return 0.5


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_start_is_logged_once_without_traceback_then_once_a_minute_then_the_end() -> None:
    outage = DatabaseOutage()
    first = outage.failed("claiming due SMS", REFUSED, at(0))
    assert first is not None and not first.traceback
    assert first.message.startswith("database unreachable: claiming due SMS failed (Exception: connection to server")
    assert "\n" not in first.message and "SELECT 1" not in first.message
    assert [outage.failed("claiming due SMS", REFUSED, at(s)) for s in (1, 10, 59.9)] == [None, None, None]
    still = outage.failed("claiming due SMS", REFUSED, at(61))
    assert still is not None and still.message.startswith("database still failing after 61 s (5 failed tries)")
    assert outage.failed("claiming due SMS", REFUSED, at(100)) is None
    assert outage.failed("claiming due SMS", REFUSED, at(121)) is not None
    end = outage.succeeded(at(125.5))
    assert end is not None and end.message == "database back after 125.5 s (7 failed tries)"
    assert outage.succeeded(at(126)) is None and not outage.ongoing


def test_an_error_that_is_not_an_outage_keeps_its_traceback_once() -> None:
    outage = DatabaseOutage()
    bug = ProgrammingError("UPDATE", {}, Exception("column does not exist"))
    first = outage.failed("writing 3 outcome(s)", bug, at(0))
    assert first is not None and first.traceback and first.message.startswith("database failing: writing 3")
    assert outage.failed("writing 3 outcome(s)", bug, at(1)) is None


def test_tries_back_off_to_the_cap_and_start_over_after_the_outage() -> None:
    outage = DatabaseOutage()
    assert outage.delay_s(Half()) == 0.0
    delays = []
    for second in range(12):
        outage.failed("claiming due SMS", REFUSED, at(second))
        delays.append(outage.delay_s(Half()))
    # Equal jitter at its middle: three quarters of the ceiling 0.25 * 2**n, the ceiling capped at 5 s.
    assert delays[:4] == [0.1875, 0.375, 0.75, 1.5]
    assert delays[-1] == 3.75 == 0.75 * OUTAGE_BACKOFF.cap_s
    outage.succeeded(at(20))
    outage.failed("claiming due SMS", REFUSED, at(30))
    assert outage.delay_s(Half()) == 0.1875


def test_a_30_s_outage_at_the_backoff_pace_logs_two_lines_ten_minutes_twelve() -> None:
    def lines_for(outage_s: float) -> int:
        outage, now, logged = DatabaseOutage(), 0.0, 0
        while now < outage_s:
            logged += outage.failed("claiming due SMS", REFUSED, at(now)) is not None
            now += outage.delay_s(Half())
        return logged + (outage.succeeded(at(now)) is not None)

    assert lines_for(30) == 2
    assert lines_for(600) == 1 + 9 + 1


def test_describe_error_is_one_bounded_line_of_the_drivers_error() -> None:
    long = OperationalError("SELECT " + "x, " * 500, {}, Exception("line one\nline two " + "y" * 1000))
    text = describe_error(long)
    assert text.startswith("Exception: line one line two yyy") and "\n" not in text and len(text) < 350
    assert describe_error(ValueError()) == "ValueError"
