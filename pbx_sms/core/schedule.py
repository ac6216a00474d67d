"""When a rule is in force: date ranges, weekdays and hour windows (pure, precompiled for speed).

Semantics (also in docs/rules.md):

- Everything is evaluated on the wall clock of the account's time zone at the moment the call
  ended.  The instant is converted with zoneinfo, so the offset in force at that instant is used
  (DST-correct); a wall-clock time that a DST change skips never occurs, and one that repeats
  (autumn) is in a window on both of its occurrences.
- Dates are inclusive at both ends.  Weekdays are ``mon`` .. ``sun``.
- An hour window ``{from: "HH:MM", to: "HH:MM"}`` includes ``from`` and excludes ``to``.
  ``to`` may be ``"24:00"`` (end of the day).  When ``to`` is earlier than ``from`` the window
  crosses midnight and belongs, as a whole, to the day on which it starts: Friday 18:00–08:00
  covers Saturday 03:00 when Friday is an allowed weekday and inside the date ranges, whatever
  Saturday is.  When ``from`` equals ``to`` the window lasts 24 hours from ``from``
  (``"00:00"``–``"00:00"`` is the whole day; ``"08:00"``–``"08:00"`` runs until 08:00 the next day).
- Parts left out do not restrict: no ``hours`` means the whole day, no ``weekdays`` every day,
  no ``dates`` every date.  Several windows or date ranges are alternatives (any of them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_INDEX: dict[str, int] = {name: index for index, name in enumerate(WEEKDAYS)}
MINUTES_PER_DAY = 24 * 60
ALL_WEEKDAYS_MASK = (1 << 7) - 1

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_clock(value: str, *, allow_24: bool = False) -> int:
    """``"HH:MM"`` → minutes after midnight; ``"24:00"`` (= 1440) only when ``allow_24``.

    Raises ValueError with a message that says what was expected.
    """
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(f'expected "HH:MM" (24-hour clock, e.g. "08:30"), got {value!r}')
    hours, minutes = int(match.group(1)), int(match.group(2))
    if allow_24 and hours == 24 and minutes == 0:
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        limit = '"00:00" .. "24:00"' if allow_24 else '"00:00" .. "23:59"'
        raise ValueError(f"expected a time of day {limit}, got {value!r}")
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class TimeWindows:
    """A compiled schedule: test a wall-clock time of the account's time zone with :meth:`contains_local`
    (the matcher converts the call's end to it once, for all rules).

    ``windows`` are ``(from_min, to_min)`` minute pairs; ``to_min <= from_min`` means the window
    crosses midnight (equal: 24 hours).  ``date_ranges`` are inclusive ``(first, last)`` proleptic
    ordinals.  ``weekday_mask`` has bit ``n`` set for weekday ``n`` (Monday = 0).
    """

    windows: tuple[tuple[int, int], ...] = ()
    weekday_mask: int = ALL_WEEKDAYS_MASK
    date_ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def build(
        cls,
        *,
        dates: Iterable[tuple[date, date]] | None = None,
        weekdays: Iterable[str] | None = None,
        hours: Iterable[tuple[int, int]] | None = None,
    ) -> TimeWindows:
        """From plain values: inclusive date pairs, weekday names and minute pairs."""
        mask = ALL_WEEKDAYS_MASK
        if weekdays is not None:
            mask = 0
            for name in weekdays:
                mask |= 1 << WEEKDAY_INDEX[name]
        ranges = tuple((first.toordinal(), last.toordinal()) for first, last in dates or ())
        return cls(windows=tuple(hours or ()), weekday_mask=mask, date_ranges=ranges)

    @property
    def always(self) -> bool:
        return not self.windows and not self.date_ranges and self.weekday_mask == ALL_WEEKDAYS_MASK

    def _day_allowed(self, ordinal: int) -> bool:
        # date(1, 1, 1) has ordinal 1 and is a Monday.
        if not (self.weekday_mask >> ((ordinal + 6) % 7)) & 1:
            return False
        if self.date_ranges:
            return any(first <= ordinal <= last for first, last in self.date_ranges)
        return True

    def contains_local(self, local: datetime) -> bool:
        """Whether a wall-clock time (naive or aware, read as shown) is inside the schedule."""
        ordinal = local.toordinal()
        if not self.windows:
            return self._day_allowed(ordinal)
        # Minute resolution is exact: "from" is inclusive and "to" exclusive, both whole minutes.
        minute = local.hour * 60 + local.minute
        for start, end in self.windows:
            if start < end:
                if start <= minute < end and self._day_allowed(ordinal):
                    return True
            else:
                if minute >= start and self._day_allowed(ordinal):
                    return True
                if minute < end and self._day_allowed(ordinal - 1):
                    return True
        return False
