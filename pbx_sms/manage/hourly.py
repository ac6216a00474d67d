"""Hours of the last days in an account's time zone, and how many events fall in each (pure).

An hour is an hour of elapsed time starting at a local full hour: the day daylight saving time starts
has 23 of them, the day it ends 25 (its 02:00 twice, with two offsets), so every event is counted once.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pbx_sms.outbox.decisions import local_day

HOUR = timedelta(hours=1)


def local_midnight(day_of: datetime, zone: ZoneInfo, days_back: int = 0) -> datetime:
    """The start (UTC) of the local day ``days_back`` days before the one holding ``day_of``."""
    local_day = day_of.astimezone(zone).date() - timedelta(days=days_back)
    return datetime.combine(local_day, time(0), tzinfo=zone).astimezone(UTC)


def today_window(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the local day holding ``now``, in UTC (23, 24 or 25 hours long): the daily cap's
    own day (``outbox.decisions.local_day``), so the dashboard's "today" counts what the cap counts."""
    day = local_day(0, now, zone.key)
    return day.start.astimezone(UTC), day.end.astimezone(UTC)


def hour_starts(now: datetime, zone: ZoneInfo, days: int) -> list[datetime]:
    """The UTC starts of every hour from local midnight ``days - 1`` days ago to the end of today."""
    start = local_midnight(now, zone, days_back=days - 1)
    end = local_midnight(now, zone, days_back=-1)
    starts = []
    moment = start
    while moment < end:
        starts.append(moment)
        moment += HOUR
    return starts


def count_per_hour(starts: list[datetime], moments: Iterable[datetime]) -> list[int]:
    """How many of ``moments`` fall in each hour starting at ``starts`` (sorted, UTC); outside: not counted."""
    counts = [0] * len(starts)
    if not starts:
        return counts
    end = starts[-1] + HOUR
    for moment in moments:
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        if starts[0] <= aware < end:
            counts[bisect_right(starts, aware) - 1] += 1
    return counts
