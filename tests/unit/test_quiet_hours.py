"""Quiet hours (pure): parsing, the window on the wall clock, and the next moment an SMS may go out."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbx_sms.core.quiet_hours import QuietHours

WARSAW = "Europe/Warsaw"
NIGHT = QuietHours.parse("21:00-08:00")


def wall_clock(instant: datetime, timezone: str) -> datetime:
    """What the outbox tests quiet hours with: the instant on the account's wall clock."""
    return instant.astimezone(ZoneInfo(timezone))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("21:00-08:00", time(21), time(8)),
        (" 9:30 - 17:15 ", time(9, 30), time(17, 15)),
        ("22:00-24:00", time(22), time(0)),
        ("00:00-06:00", time(0), time(6)),
    ],
)
def test_parse(text: str, start: time, end: time) -> None:
    quiet = QuietHours.parse(text)
    assert (quiet.start, quiet.end) == (start, end)
    assert QuietHours.parse(str(quiet)) == quiet


def test_text_form_is_canonical() -> None:
    assert str(QuietHours.parse(" 9:30 - 17:15 ")) == "09:30-17:15"
    assert str(QuietHours.parse("22:00-24:00")) == "22:00-00:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("21-8", r'quiet hours \'21-8\': expected "HH:MM-HH:MM" \(24-hour clock, e\.g\. "21:00-08:00"'),
        ("21:00", 'expected "HH:MM-HH:MM"'),
        ("21:00-08:00-09:00", 'expected "HH:MM-HH:MM"'),
        ("", 'expected "HH:MM-HH:MM"'),
        ("25:00-08:00", "quiet hours '25:00-08:00': expected a time of day \"00:00\" .. \"23:59\", got '25:00'"),
        ("21:00-08:60", "got '08:60'"),
        ("24:00-08:00", "got '24:00'"),
        ("08:00-08:00", 'quiet hours "08:00-08:00": start and end are the same'),
        ("00:00-24:00", 'quiet hours "00:00-00:00": start and end are the same'),
    ],
)
def test_bad_text_is_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QuietHours.parse(text)


# --- inside or outside -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        (datetime(2026, 3, 10, 20, 59, 59), False),
        (datetime(2026, 3, 10, 21, 0), True),
        (datetime(2026, 3, 10, 23, 59), True),
        (datetime(2026, 3, 11, 0, 0), True),
        (datetime(2026, 3, 11, 7, 59, 59), True),
        (datetime(2026, 3, 11, 8, 0), False),
        (datetime(2026, 3, 11, 12, 0), False),
    ],
)
def test_window_across_midnight_includes_its_start_and_excludes_its_end(local: datetime, inside: bool) -> None:
    assert NIGHT.contains_local(local) is inside


def test_window_within_a_day() -> None:
    siesta = QuietHours.parse("13:00-15:00")
    assert not siesta.crosses_midnight
    assert [siesta.contains_local(datetime(2026, 3, 10, hour)) for hour in (12, 13, 14, 15)] == [
        False,
        True,
        True,
        False,
    ]


def test_contains_uses_the_account_time_zone() -> None:
    # 20:30 UTC is 21:30 in Warsaw in March (UTC+1) and 16:30 in New York.
    assert NIGHT.contains_local(wall_clock(utc(2026, 3, 10, 20, 30), WARSAW))
    assert not NIGHT.contains_local(wall_clock(utc(2026, 3, 10, 20, 30), "America/New_York"))


# --- the next allowed moment -----------------------------------------------------------------


def test_outside_the_window_the_time_itself() -> None:
    at = utc(2026, 3, 10, 12, 0, 5)
    assert NIGHT.next_allowed(at, WARSAW) is at


def test_inside_the_window_its_end() -> None:
    # 22:15 Warsaw → 08:00 next morning; 06:00 Warsaw → 08:00 the same morning.
    assert NIGHT.next_allowed(utc(2026, 3, 10, 21, 15), WARSAW) == utc(2026, 3, 11, 7, 0)
    assert NIGHT.next_allowed(utc(2026, 3, 11, 5, 0), WARSAW) == utc(2026, 3, 11, 7, 0)
    assert NIGHT.next_allowed(utc(2026, 3, 10, 20, 0), WARSAW) == utc(2026, 3, 11, 7, 0)  # 21:00 sharp


def test_result_keeps_the_callers_time_zone() -> None:
    at = datetime(2026, 3, 10, 23, 0, tzinfo=ZoneInfo(WARSAW))
    result = NIGHT.next_allowed(at, WARSAW)
    assert result == utc(2026, 3, 11, 7, 0)
    assert result.utcoffset() == timedelta(hours=1)


def test_spring_change_night_is_an_hour_shorter() -> None:
    # Warsaw 2026-03-29: 02:00 CET → 03:00 CEST. 21:00 CET (20:00 UTC) to 08:00 CEST (06:00 UTC) = 10 h.
    start = utc(2026, 3, 28, 20, 0)
    end = NIGHT.next_allowed(start, WARSAW)
    assert end == utc(2026, 3, 29, 6, 0)
    assert end - start == timedelta(hours=10)


def test_autumn_change_night_is_an_hour_longer() -> None:
    # Warsaw 2026-10-25: 03:00 CEST → 02:00 CET. 21:00 CEST (19:00 UTC) to 08:00 CET (07:00 UTC) = 12 h.
    start = utc(2026, 10, 24, 19, 0)
    end = NIGHT.next_allowed(start, WARSAW)
    assert end == utc(2026, 10, 25, 7, 0)
    assert end - start == timedelta(hours=12)


def test_an_end_the_spring_change_skips_ends_the_window_at_the_change() -> None:
    # 02:30 does not exist on 2026-03-29 in Warsaw: the first later wall-clock time is 03:00 CEST = 01:00 UTC.
    short = QuietHours.parse("21:00-02:30")
    assert short.next_allowed(utc(2026, 3, 28, 23, 30), WARSAW) == utc(2026, 3, 29, 1, 0)
    assert not short.contains_local(wall_clock(utc(2026, 3, 29, 1, 0), WARSAW))
    assert short.contains_local(wall_clock(utc(2026, 3, 29, 0, 59, 59), WARSAW))


def test_an_end_the_autumn_change_repeats_is_its_next_occurrence() -> None:
    # 02:00-02:59 happens twice on 2026-10-25 (CEST, then CET); the wall clock re-enters the window.
    short = QuietHours.parse("21:00-02:30")
    assert short.next_allowed(utc(2026, 10, 24, 23, 0), WARSAW) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    assert short.next_allowed(utc(2026, 10, 25, 1, 10), WARSAW) == utc(2026, 10, 25, 1, 30)  # 02:10 CET → 02:30 CET


# --- properties ------------------------------------------------------------------------------

ZONES = [
    "UTC",
    WARSAW,
    "America/New_York",
    "America/Santiago",  # changes at midnight
    "Australia/Lord_Howe",  # 30-minute DST
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
]
minutes = st.integers(min_value=0, max_value=24 * 60 - 1)
windows = (
    st.tuples(minutes, minutes)
    .filter(lambda pair: pair[0] != pair[1])
    .map(lambda pair: QuietHours(time(pair[0] // 60, pair[0] % 60), time(pair[1] // 60, pair[1] % 60)))
)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)


@settings(max_examples=600, deadline=None)
@given(quiet=windows, at=instants, timezone=st.sampled_from(ZONES))
def test_next_allowed_properties(quiet: QuietHours, at: datetime, timezone: str) -> None:
    result = quiet.next_allowed(at, timezone)
    assert result >= at
    assert not quiet.contains_local(wall_clock(result, timezone))
    assert quiet.next_allowed(result, timezone) == result
    # Never later than needed: every moment before it (from ``at`` on) is inside the window.
    if result > at:
        assert quiet.contains_local(wall_clock(at, timezone))
        just_before = result - timedelta(seconds=1)
        assert quiet.contains_local(wall_clock(just_before, timezone)) or just_before < at
        for step in range(1, 8):
            assert quiet.contains_local(wall_clock(at + (result - at) * step / 8, timezone))
    assert result - at <= timedelta(hours=25)


@settings(max_examples=300, deadline=None)
@given(quiet=windows, at=instants)
def test_in_utc_the_window_is_plain_clock_arithmetic(quiet: QuietHours, at: datetime) -> None:
    result = quiet.next_allowed(at, "UTC")
    if not quiet.contains_local(wall_clock(at, "UTC")):
        assert result == at
    else:
        assert result.time() == quiet.end and result.second == 0
        assert timedelta(0) < result - at <= timedelta(hours=24)
