"""Time windows: inclusive/exclusive edges, midnight crossing, 24-hour windows, date ranges, DST."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_sms.core.schedule import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    TimeWindows,
    format_clock,
    parse_clock,
    zone,
)

WARSAW = ZoneInfo("Europe/Warsaw")
# 2026-11-27 is a Friday.
FRIDAY = date(2026, 11, 27)


def local(day: date, clock: str, seconds: int = 0) -> datetime:
    minutes = parse_clock(clock)
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, seconds)


def clock_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((parse_clock(start), parse_clock(end, allow_24=True)) for start, end in pairs)


def windows(*pairs: tuple[str, str], weekdays: list[str] | None = None, dates=None) -> TimeWindows:
    return TimeWindows.build(hours=clock_pairs(pairs), weekdays=weekdays, dates=dates)


def wall_clock(instant: datetime, timezone: str | ZoneInfo) -> datetime:
    """What the matcher tests a schedule with: the instant on the account's wall clock."""
    return instant.astimezone(zone(timezone) if isinstance(timezone, str) else timezone)


class TestClock:
    @pytest.mark.parametrize(
        ("text", "minutes"), [("00:00", 0), ("08:30", 510), ("8:05", 485), ("23:59", 1439), ("18:00", 1080)]
    )
    def test_parses(self, text: str, minutes: int) -> None:
        assert parse_clock(text) == minutes

    @pytest.mark.parametrize("text", ["24:00", "25:00", "12:60", "1200", "12:0", "", "ab:cd", " 12:00", "12:00:00"])
    def test_rejects(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"HH:MM|time of day"):
            parse_clock(text)

    def test_24_only_as_end(self) -> None:
        assert parse_clock("24:00", allow_24=True) == MINUTES_PER_DAY
        with pytest.raises(ValueError):
            parse_clock("24:01", allow_24=True)

    def test_format_round_trip(self) -> None:
        assert all(parse_clock(format_clock(m)) == m for m in range(MINUTES_PER_DAY))


class TestHours:
    def test_from_inclusive_to_exclusive(self) -> None:
        day = windows(("08:00", "16:00"))
        assert day.contains_local(local(FRIDAY, "08:00"))
        assert not day.contains_local(local(FRIDAY, "07:59", 59))
        assert day.contains_local(local(FRIDAY, "15:59", 59))
        assert not day.contains_local(local(FRIDAY, "16:00"))

    def test_crossing_midnight_belongs_to_start_day(self) -> None:
        friday_nights = windows(("18:00", "08:00"), weekdays=["fri"])
        saturday = FRIDAY + timedelta(days=1)
        assert friday_nights.contains_local(local(saturday, "03:00"))
        assert friday_nights.contains_local(local(FRIDAY, "18:00"))
        assert friday_nights.contains_local(local(FRIDAY, "23:59"))
        assert not friday_nights.contains_local(local(saturday, "08:00"))
        # Saturday evening starts a Saturday window, which is not allowed.
        assert not friday_nights.contains_local(local(saturday, "18:00"))
        # Friday morning 03:00 belongs to Thursday's window.
        assert not friday_nights.contains_local(local(FRIDAY, "03:00"))
        assert not friday_nights.contains_local(local(FRIDAY, "12:00"))

    def test_equal_bounds_mean_24_hours_from_start(self) -> None:
        whole_day = windows(("00:00", "00:00"), weekdays=["fri"])
        assert whole_day.contains_local(local(FRIDAY, "00:00"))
        assert whole_day.contains_local(local(FRIDAY, "23:59"))
        assert not whole_day.contains_local(local(FRIDAY + timedelta(days=1), "00:00"))
        from_eight = windows(("08:00", "08:00"), weekdays=["fri"])
        assert from_eight.contains_local(local(FRIDAY, "08:00"))
        assert from_eight.contains_local(local(FRIDAY + timedelta(days=1), "07:59"))
        assert not from_eight.contains_local(local(FRIDAY + timedelta(days=1), "08:00"))
        assert not from_eight.contains_local(local(FRIDAY, "07:59"))

    def test_until_24(self) -> None:
        evening = windows(("18:00", "24:00"))
        assert evening.contains_local(local(FRIDAY, "23:59", 59))
        assert not evening.contains_local(local(FRIDAY + timedelta(days=1), "00:00"))

    def test_several_windows_are_alternatives(self) -> None:
        split = windows(("08:00", "12:00"), ("13:00", "17:00"))
        assert split.contains_local(local(FRIDAY, "09:00"))
        assert not split.contains_local(local(FRIDAY, "12:30"))
        assert split.contains_local(local(FRIDAY, "16:00"))


class TestDaysAndDates:
    def test_weekdays_only(self) -> None:
        workdays = TimeWindows.build(weekdays=["mon", "tue", "wed", "thu", "fri"])
        assert workdays.contains_local(local(FRIDAY, "23:59"))
        assert not workdays.contains_local(local(FRIDAY + timedelta(days=1), "00:00"))

    def test_dates_inclusive(self) -> None:
        advent = TimeWindows.build(dates=[(date(2026, 12, 1), date(2026, 12, 24))])
        assert advent.contains_local(local(date(2026, 12, 1), "00:00"))
        assert advent.contains_local(local(date(2026, 12, 24), "23:59"))
        assert not advent.contains_local(local(date(2026, 11, 30), "23:59"))
        assert not advent.contains_local(local(date(2026, 12, 25), "00:00"))

    def test_crossing_window_uses_start_date_for_date_range(self) -> None:
        last_night = TimeWindows.build(
            dates=[(date(2026, 12, 24), date(2026, 12, 24))], hours=clock_pairs([("22:00", "06:00")])
        )
        assert last_night.contains_local(local(date(2026, 12, 25), "05:59"))
        assert not last_night.contains_local(local(date(2026, 12, 24), "05:59"))

    def test_all_parts_combined(self) -> None:
        rule = TimeWindows.build(
            dates=[(date(2026, 12, 1), date(2026, 12, 24))],
            weekdays=["mon", "tue", "wed", "thu", "fri"],
            hours=clock_pairs([("18:00", "08:00")]),
        )
        friday_dec = date(2026, 12, 4)
        assert rule.contains_local(local(friday_dec + timedelta(days=1), "07:00"))  # Saturday, Friday's night
        assert not rule.contains_local(local(friday_dec + timedelta(days=1), "19:00"))  # Saturday's own night
        assert rule.contains_local(local(date(2026, 12, 24), "19:00"))
        assert rule.contains_local(local(date(2026, 12, 25), "07:00"))  # the night of Thursday the 24th
        assert not rule.contains_local(local(date(2026, 12, 25), "19:00"))  # after the date range
        assert not rule.contains_local(local(date(2026, 12, 1), "07:00"))  # the night of Nov 30th

    def test_empty_schedule_is_always(self) -> None:
        assert TimeWindows().always
        assert TimeWindows().contains_local(wall_clock(datetime(2026, 1, 1, tzinfo=UTC), "Europe/Warsaw"))
        assert not windows(("08:00", "09:00")).always


class TestTimeZonesAndDst:
    def test_evaluated_in_account_zone(self) -> None:
        office = windows(("08:00", "16:00"))
        # 07:30 UTC is 08:30 in Warsaw in winter (UTC+1), but not inside in UTC itself.
        instant = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
        assert office.contains_local(wall_clock(instant, "Europe/Warsaw"))
        assert not office.contains_local(wall_clock(instant, "UTC"))
        assert not office.contains_local(wall_clock(instant, "America/New_York"))

    def test_spring_forward_warsaw(self) -> None:
        # 2026-03-29: 02:00 CET jumps to 03:00 CEST. 01:30 UTC is 03:30 local (02:30 never happens).
        instant = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
        assert windows(("03:00", "04:00")).contains_local(wall_clock(instant, WARSAW))
        assert not windows(("02:00", "03:00")).contains_local(wall_clock(instant, WARSAW))
        # 00:59 UTC is still 01:59 CET.
        assert windows(("01:00", "02:00")).contains_local(wall_clock(datetime(2026, 3, 29, 0, 59, tzinfo=UTC), WARSAW))

    def test_fall_back_warsaw_repeated_hour_is_inside_both_times(self) -> None:
        # 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 local happens at 00:30 and 01:30 UTC.
        night = windows(("02:00", "03:00"))
        first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
        assert first.astimezone(WARSAW).hour == second.astimezone(WARSAW).hour == 2
        assert night.contains_local(wall_clock(first, WARSAW))
        assert night.contains_local(wall_clock(second, WARSAW))
        assert not night.contains_local(wall_clock(datetime(2026, 10, 25, 2, 0, tzinfo=UTC), WARSAW))  # 03:00 CET

    def test_crossing_window_over_dst_night_keeps_start_day(self) -> None:
        # Saturday 2026-03-28 22:00 to Sunday 06:00 spans the spring change: Sunday 05:00 CEST is in it.
        saturday_night = windows(("22:00", "06:00"), weekdays=["sat"])
        five_cest, six_cest = datetime(2026, 3, 29, 3, 0, tzinfo=UTC), datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
        assert saturday_night.contains_local(wall_clock(five_cest, WARSAW))
        assert not saturday_night.contains_local(wall_clock(six_cest, WARSAW))
        sunday_night_autumn = windows(("22:00", "06:00"), weekdays=["sat"])
        five_fifty_nine_cet = datetime(2026, 10, 25, 4, 59, tzinfo=UTC)
        assert sunday_night_autumn.contains_local(wall_clock(five_fifty_nine_cet, WARSAW))


minutes = st.integers(min_value=0, max_value=MINUTES_PER_DAY - 1)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31))
weekday_sets = st.sets(st.sampled_from(WEEKDAYS), min_size=1)


def _shift_weekdays(names: set[str]) -> list[str]:
    return [WEEKDAYS[(WEEKDAYS.index(name) + 1) % 7] for name in names]


@given(start=minutes, end=minutes, moment=moments)
def test_window_and_complement_partition_the_week(start: int, end: int, moment: datetime) -> None:
    if start == end:
        return
    window = TimeWindows.build(hours=[(start, end)])
    complement = TimeWindows.build(hours=[(end, start)])
    assert window.contains_local(moment) != complement.contains_local(moment)


@given(start=minutes, end=minutes, days=weekday_sets, moment=moments)
def test_crossing_window_is_union_of_its_halves(start: int, end: int, days: set[str], moment: datetime) -> None:
    if end > start:
        start, end = end, start
    crossing = TimeWindows.build(hours=[(start, end)], weekdays=days)
    evening = TimeWindows.build(hours=[(start, MINUTES_PER_DAY)], weekdays=days)
    morning = TimeWindows.build(hours=[(0, end)], weekdays=_shift_weekdays(days)) if end else None
    expected = evening.contains_local(moment) or (morning is not None and morning.contains_local(moment))
    assert crossing.contains_local(moment) == expected


@given(
    start=minutes,
    end=minutes,
    first=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)),
    length_days=st.integers(min_value=0, max_value=40),
    moment=moments,
)
def test_crossing_window_date_range_shifts_with_morning_half(
    start: int, end: int, first: date, length_days: int, moment: datetime
) -> None:
    if end >= start:
        return
    last = first + timedelta(days=length_days)
    crossing = TimeWindows.build(hours=[(start, end)], dates=[(first, last)])
    evening = TimeWindows.build(hours=[(start, MINUTES_PER_DAY)], dates=[(first, last)])
    morning = TimeWindows.build(hours=[(0, end)], dates=[(first + timedelta(days=1), last + timedelta(days=1))])
    assert crossing.contains_local(moment) == (evening.contains_local(moment) or morning.contains_local(moment))


@given(moment=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)))
def test_instant_is_judged_by_its_local_wall_clock(moment: datetime) -> None:
    office = TimeWindows.build(hours=[(8 * 60, 16 * 60)], weekdays=["mon", "tue", "wed", "thu", "fri"])
    wall = moment.astimezone(WARSAW)
    expected = wall.weekday() < 5 and 8 <= wall.hour < 16
    assert office.contains_local(wall_clock(moment, "Europe/Warsaw")) == expected


@given(days=weekday_sets, moment=moments)
def test_weekdays_select_exactly_those_days(days: set[str], moment: datetime) -> None:
    assert TimeWindows.build(weekdays=days).contains_local(moment) == (WEEKDAYS[moment.weekday()] in days)
