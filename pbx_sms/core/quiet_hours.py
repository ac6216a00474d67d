"""An account's quiet hours: a daily wall-clock window in which no SMS goes out (pure).

``"21:00-08:00"``: from 21:00 (inclusive) to 08:00 (exclusive) on the wall clock of the account's
time zone, every day; the window may cross midnight. An SMS whose send time falls inside waits for
the window's end. DST follows the wall clock: on the spring change (Europe/Warsaw 2026-03-29) a
21:00-08:00 night lasts 10 real hours, on the autumn change (2026-10-25) 12. A window end that a
spring change skips (``"-02:30"`` that night) ends the window at the change itself (03:00 CEST), the
first moment whose wall clock is past the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pbx_sms.core.schedule import MINUTES_PER_DAY, format_clock, parse_clock, zone

_WINDOW = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
EXAMPLE = "21:00-08:00"


@dataclass(frozen=True, slots=True)
class QuietHours:
    """``start`` inclusive, ``end`` exclusive; ``end < start`` crosses midnight. Never equal."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError(
                f'quiet hours "{self}": start and end are the same; '
                f'a window needs two different times, e.g. "{EXAMPLE}"'
            )

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """``"HH:MM-HH:MM"`` → QuietHours; ValueError with a message that says what was expected.

        The end may be written ``24:00`` (midnight).
        """
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(
                f'quiet hours {text!r}: expected "HH:MM-HH:MM" (24-hour clock, e.g. "{EXAMPLE}"; may cross midnight)'
            )
        try:
            start_min = parse_clock(match.group(1))
            end_min = parse_clock(match.group(2), allow_24=True) % MINUTES_PER_DAY
        except ValueError as exc:
            raise ValueError(f"quiet hours {text!r}: {exc}") from None
        return cls(_clock(start_min), _clock(end_min))

    def __str__(self) -> str:
        return f"{_format(self.start)}-{_format(self.end)}"

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def contains_local(self, local: datetime) -> bool:
        """Whether a wall-clock time (read as shown, seconds count) is inside the window."""
        clock = local.time().replace(tzinfo=None, fold=0)
        if self.crosses_midnight:
            return clock >= self.start or clock < self.end
        return self.start <= clock < self.end

    def next_allowed(self, at: datetime, timezone: str | ZoneInfo) -> datetime:
        """``at`` when it is outside the window, else the first instant after it that is (the window's end)."""
        tz = _zone(timezone)
        local = at.astimezone(tz)
        if not self.contains_local(local):
            return at
        end_day = local.date()
        if self.crosses_midnight and local.time() >= self.start:
            end_day += timedelta(days=1)
        end = _first_instant_at(datetime.combine(end_day, self.end), tz, not_before=at)
        return end.astimezone(at.tzinfo)


def _clock(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


def _format(clock: time) -> str:
    return format_clock(clock.hour * 60 + clock.minute)


def _zone(timezone: str | ZoneInfo) -> ZoneInfo:
    return zone(timezone) if isinstance(timezone, str) else timezone


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def _first_instant_at(wall: datetime, tz: ZoneInfo, *, not_before: datetime) -> datetime:
    """The earliest instant not before ``not_before`` whose wall clock in ``tz`` is ``wall``, or, when a
    spring change skips ``wall``, the change itself (the first instant whose wall clock is later)."""
    candidates = [wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    existing = [instant for instant in candidates if _wall(instant, tz) == wall]
    if existing:
        # Twice on an autumn change: the first occurrence not before ``not_before``.
        return min((instant for instant in existing if instant >= not_before), default=max(existing))
    # Skipped: the two folds straddle the change; find it (changes fall on whole seconds).
    low, high = min(candidates), max(candidates)
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return high
