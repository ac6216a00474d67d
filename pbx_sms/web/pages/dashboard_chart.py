"""The dashboard's chart of calls and SMS per hour as SVG geometry (pure: the template only draws it).

Coordinates are in the SVG's own units (its viewBox); the browser scales the drawing to the page's
width, so the chart fits a 360 px phone as well as a desktop without a script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

WIDTH = 720
HEIGHT = 240
LEFT = 40  # room for the count labels
RIGHT = 8
TOP = 12
BOTTOM = 30  # room for the day labels
NICE_STEPS = (1, 2, 5)


@dataclass(frozen=True, slots=True)
class Tick:
    position: float  # x for a day, y for a count
    value: int | date


@dataclass(frozen=True, slots=True)
class ChartGeometry:
    width: int
    height: int
    left: float
    top: float
    right: float  # x where the plot ends
    bottom: float  # y of the zero line
    calls_points: str  # a polyline's "x,y x,y …"
    sms_points: str
    y_max: int
    count_ticks: list[Tick]
    day_ticks: list[Tick]  # where each local day starts
    calls_total: int
    sms_total: int


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ at or above ``value`` (at least 1): a scale a reader can take in."""
    magnitude = 1
    while True:
        for step in NICE_STEPS:
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def chart_geometry(hour_starts: list[datetime], calls: list[int], sms: list[int], zone: ZoneInfo) -> ChartGeometry:
    """The polylines of ``calls`` and ``sms`` (one count per hour of ``hour_starts``), the count scale
    (0, half, max) and a tick where each local day begins."""
    if not len(hour_starts) == len(calls) == len(sms):
        raise ValueError("one count of calls and of SMS per hour")
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    plot_w, plot_h = right - LEFT, bottom - TOP
    y_max = nice_ceiling(max([*calls, *sms, 1]))
    slot = plot_w / max(len(hour_starts), 1)

    def x_of(index: int) -> float:
        return round(LEFT + slot * (index + 0.5), 2)

    def y_of(count: int) -> float:
        return round(bottom - plot_h * count / y_max, 2)

    def points(counts: list[int]) -> str:
        return " ".join(f"{x_of(i)},{y_of(count)}" for i, count in enumerate(counts))

    day_ticks = [
        Tick(round(LEFT + slot * index, 2), start.astimezone(zone).date())
        for index, start in enumerate(hour_starts)
        if start.astimezone(zone).hour == 0
    ]
    half = y_max // 2
    count_ticks = [Tick(y_of(value), value) for value in sorted({0, half, y_max})]
    return ChartGeometry(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        top=TOP,
        right=right,
        bottom=bottom,
        calls_points=points(calls),
        sms_points=points(sms),
        y_max=y_max,
        count_ticks=count_ticks,
        day_ticks=day_ticks,
        calls_total=sum(calls),
        sms_total=sum(sms),
    )
