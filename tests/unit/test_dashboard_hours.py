"""Hours of the last 7 days in an account's time zone (DST days have 23 and 25 hours) and the chart's geometry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from pbx_sms.manage.hourly import count_per_hour, hour_starts, today_window
from pbx_sms.web.pages.dashboard_chart import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, chart_geometry, nice_ceiling

WARSAW = ZoneInfo("Europe/Warsaw")


def test_today_is_the_local_day_and_the_dst_days_are_23_and_25_hours() -> None:
    # 2026-03-29: Warsaw goes from +01:00 to +02:00 at 02:00 local; 2026-10-25 back at 03:00 local.
    start, end = today_window(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), WARSAW)
    assert (start, end - start) == (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), timedelta(hours=23))
    start, end = today_window(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), WARSAW)
    assert (start, end - start) == (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), timedelta(hours=25))
    # 23:30 UTC on the 1st is already the 2nd in Warsaw.
    start, _end = today_window(datetime(2026, 7, 1, 23, 30, tzinfo=UTC), WARSAW)
    assert start == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)


def test_seven_days_of_hours_across_the_autumn_change_have_one_more_hour() -> None:
    now = datetime(2026, 10, 27, 10, 0, tzinfo=UTC)
    starts = hour_starts(now, WARSAW, 7)
    assert len(starts) == 7 * 24 + 1
    assert starts[0].astimezone(WARSAW).replace(tzinfo=None) == datetime(2026, 10, 21, 0, 0)
    local = [start.astimezone(WARSAW) for start in starts]
    assert [moment.hour for moment in local if moment.date() == date(2026, 10, 25)].count(2) == 2  # 02:00 twice
    assert all(later - earlier == timedelta(hours=1) for earlier, later in pairwise(starts))
    spring = hour_starts(datetime(2026, 3, 30, 10, 0, tzinfo=UTC), WARSAW, 7)
    assert len(spring) == 7 * 24 - 1
    assert 2 not in [s.astimezone(WARSAW).hour for s in spring if s.astimezone(WARSAW).date() == date(2026, 3, 29)]


def test_each_moment_is_counted_in_its_local_hour_once() -> None:
    starts = hour_starts(datetime(2026, 10, 25, 12, 0, tzinfo=UTC), WARSAW, 1)
    # 00:30 UTC = 02:30 CEST (first 02:00), 01:30 UTC = 02:30 CET (second 02:00): two buckets, one each.
    moments = [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # local midnight: the first hour
        datetime(2026, 10, 24, 21, 59, tzinfo=UTC),  # the day before: not counted
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # the next day: not counted
        datetime(2026, 10, 25, 22, 59),  # naive = UTC: the last hour
    ]
    counts = count_per_hour(starts, moments)
    assert len(counts) == 25 and sum(counts) == 4
    assert counts[0] == 1 and counts[2] == 1 and counts[3] == 1 and counts[-1] == 1


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (499, 500), (501, 1000)]
)
def test_the_scale_ends_at_a_round_number(value: int, ceiling: int) -> None:
    assert nice_ceiling(value) == ceiling


def test_the_chart_puts_each_hour_in_its_slot_and_days_at_local_midnight() -> None:
    starts = hour_starts(datetime(2026, 10, 27, 10, 0, tzinfo=UTC), WARSAW, 7)
    calls = [0] * len(starts)
    sms = [0] * len(starts)
    calls[0], calls[-1], sms[10] = 8, 4, 3
    chart = chart_geometry(starts, calls, sms, WARSAW)
    assert (chart.width, chart.height, chart.y_max) == (WIDTH, HEIGHT, 10)
    points = [tuple(map(float, point.split(","))) for point in chart.calls_points.split()]
    assert len(points) == len(starts)
    slot = (WIDTH - RIGHT - LEFT) / len(starts)
    assert points[0] == (round(LEFT + slot / 2, 2), round(HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * 0.8, 2))
    assert points[1][1] == HEIGHT - BOTTOM  # zero on the zero line
    assert all(LEFT <= x <= WIDTH - RIGHT and TOP <= y <= HEIGHT - BOTTOM for x, y in points)
    assert [tick.value for tick in chart.day_ticks] == [date(2026, 10, day) for day in range(21, 28)]
    # The 25-hour day is wider: the tick after it comes 25 slots later.
    assert round(chart.day_ticks[5].position - chart.day_ticks[4].position, 1) == round(25 * slot, 1)
    assert [tick.value for tick in chart.count_ticks] == [0, 5, 10]
    assert (chart.calls_total, chart.sms_total) == (12, 3)


def test_an_empty_week_still_has_a_scale_and_mismatched_series_are_refused() -> None:
    starts = hour_starts(datetime(2026, 7, 1, tzinfo=UTC), WARSAW, 7)
    chart = chart_geometry(starts, [0] * len(starts), [0] * len(starts), WARSAW)
    assert chart.y_max == 1 and [tick.value for tick in chart.count_ticks] == [0, 1]
    with pytest.raises(ValueError, match="one count"):
        chart_geometry(starts, [0], [0] * len(starts), WARSAW)
