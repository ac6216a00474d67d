"""The rule form's fields ↔ a rule (pure): what the form posts, the rule-file document it makes, and
which form field each validation problem belongs to.

Validation is the rule file's own: the document is checked by ``core.rulefile.check_rule_document``
(the API's check, the one a rule file's rule goes through), so a rule typed in the form and one imported
from YAML are checked by the same code with the same messages. Only the shapes a form adds are parsed
here (a number typed as text, "18:00-08:00" for an hour window, "2025-12-24..2025-12-26" for a date range).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_document
from pbx_sms.core.rules import Rule

Translate = Callable[[str], str]
OTHER_PARTY = "other_party"
WHOLE_FORM = "form"  # a problem that belongs to no one field

# Rule-file paths → the form field that shows their problems (the longest prefix wins).
FIELD_OF_PATH: dict[str, str] = {
    "name": "name",
    "when.direction": "direction",
    "when.numbers": "numbers",
    "when.status": "status",
    "when.talk_s": "talk",
    "when.schedule.weekdays": "weekdays",
    "when.schedule.hours": "hours",
    "when.schedule.dates": "dates",
    "then.sender": "sender",
    "then.to": "to",
    "then.text": "text",
    "then.delay_s": "delay_s",
    "then.min_interval_s": "min_interval_s",
    "then.max_parts": "max_parts",
    "then.transliterate": "transliterate",
}
_SPLIT = re.compile(r"[\s,;]+")
_HOURS = re.compile(r"(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})")
_DATES = re.compile(r"(\d{4}-\d{2}-\d{2})\s*(?:\.\.|–)\s*(\d{4}-\d{2}-\d{2})")


@dataclass
class RuleForm:
    """The form's values as typed (strings), so a form with a mistake comes back as it was sent."""

    name: str = ""
    direction: str = "in"
    numbers_all: bool = True
    numbers: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=lambda: ["no_answer"])
    talk_min: str = ""
    talk_max: str = ""
    weekdays: list[str] = field(default_factory=list)
    hours: str = ""
    dates: str = ""
    sender: str = ""
    to_other_party: bool = True
    to_numbers: str = ""
    text: str = ""
    delay_s: str = "0"
    min_interval_s: str = "0"
    max_parts: str = ""
    transliterate: bool = False


def form_of_post(values: Mapping[str, Sequence[str]]) -> RuleForm:
    """The form from a POST's fields (each a list: checkboxes and multi-selects repeat)."""

    def one(name: str, default: str = "") -> str:
        found = values.get(name)
        return found[-1] if found else default

    return RuleForm(
        name=one("name"),
        direction=one("direction"),
        numbers_all=bool(values.get("numbers_all")),
        numbers=list(values.get("numbers", [])),
        status=list(values.get("status", [])),
        talk_min=one("talk_min").strip(),
        talk_max=one("talk_max").strip(),
        weekdays=list(values.get("weekdays", [])),
        hours=one("hours").strip(),
        dates=one("dates").strip(),
        sender=one("sender"),
        to_other_party=bool(values.get("to_other_party")),
        to_numbers=one("to_numbers").strip(),
        text=one("text").replace("\r\n", "\n"),
        delay_s=one("delay_s").strip(),
        min_interval_s=one("min_interval_s").strip(),
        max_parts=one("max_parts").strip(),
        transliterate=bool(values.get("transliterate")),
    )


def form_of_rule(rule: Rule) -> RuleForm:
    """The form filled with a stored rule, for editing."""
    when, then = rule.when, rule.then
    schedule = when.schedule
    return RuleForm(
        name=rule.name,
        direction=when.direction,
        numbers_all=when.numbers == "all",
        numbers=[] if when.numbers == "all" else list(when.numbers),
        status=list(when.status),
        talk_min="" if when.talk_s is None or when.talk_s.min is None else str(when.talk_s.min),
        talk_max="" if when.talk_s is None or when.talk_s.max is None else str(when.talk_s.max),
        weekdays=list(schedule.weekdays or []) if schedule else [],
        hours=", ".join(f"{window.from_}-{window.to}" for window in (schedule.hours or [])) if schedule else "",
        dates=", ".join(f"{item.from_}..{item.to}" for item in (schedule.dates or [])) if schedule else "",
        sender=then.sender,
        to_other_party=OTHER_PARTY in then.to,
        to_numbers=", ".join(recipient for recipient in then.to if recipient != OTHER_PARTY),
        text=then.text,
        delay_s=str(then.delay_s),
        min_interval_s=str(then.min_interval_s),
        max_parts="" if then.max_parts is None else str(then.max_parts),
        transliterate=then.transliterate,
    )


Problems = dict[str, list[str]]


def _whole_number(text: str, where: str, problems: Problems, _: Translate) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        problems.setdefault(where, []).append(_("expected a whole number, got %(value)r") % {"value": text})
        return None
    return int(text)


def _pairs(text: str, pattern: re.Pattern[str], where: str, expected: str, problems: Problems) -> list[dict[str, str]]:
    pairs: list[dict[str, str]] = []
    for item in filter(None, (part.strip() for part in re.split(r"[,;\n]+", text))):
        matched = pattern.fullmatch(item)
        if matched is None:
            problems.setdefault(where, []).append(f"{expected}: {item!r}")
        else:
            pairs.append({"from": matched.group(1).zfill(5), "to": matched.group(2).zfill(5)})
    return pairs


def document_of_form(form: RuleForm, enabled: bool, _: Translate) -> tuple[dict[str, Any], Problems]:
    """The rule-file document the form describes, and the problems of the fields only a form has."""
    problems: Problems = {}
    when: dict[str, Any] = {
        "direction": form.direction,
        "numbers": "all" if form.numbers_all else list(form.numbers),
        "status": list(form.status),
    }
    talk = {
        key: value
        for key, value in (
            ("min", _whole_number(form.talk_min, "talk", problems, _)),
            ("max", _whole_number(form.talk_max, "talk", problems, _)),
        )
        if value is not None
    }
    if talk:
        when["talk_s"] = talk
    schedule: dict[str, Any] = {}
    if form.weekdays:
        schedule["weekdays"] = list(form.weekdays)
    hours = _pairs(form.hours, _HOURS, "hours", _("expected HH:MM-HH:MM"), problems)
    if hours:
        schedule["hours"] = hours
    dates = _pairs(form.dates, _DATES, "dates", _("expected YYYY-MM-DD..YYYY-MM-DD"), problems)
    if dates:
        schedule["dates"] = dates
    if schedule:
        when["schedule"] = schedule
    recipients = ([OTHER_PARTY] if form.to_other_party else []) + [
        number for number in _SPLIT.split(form.to_numbers) if number
    ]
    then: dict[str, Any] = {"sender": form.sender, "to": recipients, "text": form.text}
    for key, text in (
        ("delay_s", form.delay_s),
        ("min_interval_s", form.min_interval_s),
        ("max_parts", form.max_parts),
    ):
        value = _whole_number(text, key, problems, _)
        if value is not None:
            then[key] = value
    then["transliterate"] = form.transliterate
    return {"name": form.name, "enabled": enabled, "when": when, "then": then}, problems


def field_of(path: str) -> str:
    """The form field of a rule-file path ("rules[0].when.status[1]" → "status")."""
    path = re.sub(r"^rules\[\d+\]\.?", "", path)
    best = max(
        (prefix for prefix in FIELD_OF_PATH if path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))),
        key=len,
        default=None,
    )
    return FIELD_OF_PATH[best] if best is not None else WHOLE_FORM


def problems_by_field(problems: Iterable[tuple[str, str]]) -> Problems:
    """(rule path, message) pairs grouped by the form field that shows them."""
    grouped: Problems = {}
    for path, message in problems:
        grouped.setdefault(field_of(path), []).append(message)
    return grouped


def merge_problems(into: Problems, more: Problems) -> None:
    for where, messages in more.items():
        into.setdefault(where, []).extend(messages)


def checked_rule(document: dict[str, Any]) -> tuple[Rule | None, Problems]:
    """The rule, validated as a rule file's rule would be; else the problems by form field."""
    try:
        return check_rule_document(document), {}
    except RuleFileInvalid as exc:
        return None, problems_by_field((error.field, error.message) for error in exc.errors)
