"""A rule as one row of the rules page, in the reader's language (pure).

The CLI's one-line summary (``conditions_summary``, in pbx_sms.cli.rules_db, moving to pbx_sms.manage)
is English text for a terminal and sits in a layer the web may not import; the page needs each
condition in its own translated cell, so it reads the same Rule fields here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from babel.dates import format_date, get_day_names

from pbx_sms.core.rules import Rule
from pbx_sms.core.schedule import WEEKDAYS

Translate = Callable[[str], str]


def direction_label(_: Translate, direction: str) -> str:
    return {"in": _("incoming"), "out": _("outgoing"), "any": _("incoming and outgoing")}[direction]


def status_label(_: Translate, status: str) -> str:
    return {"answered": _("answered"), "no_answer": _("no answer"), "busy": _("busy"), "failed": _("failed")}[status]


@dataclass(frozen=True, slots=True)
class RuleCells:
    direction: str
    numbers: str
    statuses: str
    schedule: tuple[str, ...]  # one short line per condition; empty: at any time


def rule_cells(rule: Rule, language: str, _: Translate) -> RuleCells:
    when = rule.when
    numbers = _("all numbers") if when.numbers == "all" else ", ".join(when.numbers)
    return RuleCells(
        direction=direction_label(_, when.direction),
        numbers=numbers,
        statuses=", ".join(status_label(_, status) for status in when.status),
        schedule=schedule_lines(rule, language, _),
    )


def schedule_lines(rule: Rule, language: str, _: Translate) -> tuple[str, ...]:
    when = rule.when
    lines: list[str] = []
    if when.talk_s is not None:
        if when.talk_s.min is not None:
            lines.append(_("talk at least %(seconds)d s") % {"seconds": when.talk_s.min})
        if when.talk_s.max is not None:
            lines.append(_("talk at most %(seconds)d s") % {"seconds": when.talk_s.max})
    schedule = when.schedule
    if schedule is None:
        return tuple(lines)
    if schedule.weekdays:
        day_names = get_day_names("abbreviated", locale=language)
        lines.append(", ".join(day_names[WEEKDAYS.index(day)] for day in schedule.weekdays))
    if schedule.hours:
        lines.append(", ".join(f"{window.from_}–{window.to}" for window in schedule.hours))
    if schedule.dates:
        lines.append(
            ", ".join(
                f"{format_date(item.from_, 'short', locale=language)}–{format_date(item.to, 'short', locale=language)}"
                for item in schedule.dates
            )
        )
    return tuple(lines)
