"""A rule ↔ its row in the ``rules`` table (pure).

The row keeps the rule's fields as plain columns (see docs/schema.md); lists are comma-separated
text and the schedule is the rule file's ``schedule`` part as JSON. Reading a row validates it with
the same pydantic model as the rule files, so a hand-written row that the files would reject is
reported with the column to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from pbx_sms.core.rules import Rule, error_location, rule_to_document
from pbx_sms.storage.values import decode_list, encode_list

# The columns that hold the rule itself (not its identity, account or timestamps).
RULE_COLUMNS: tuple[str, ...] = (
    "enabled",
    "direction",
    "statuses",
    "numbers",
    "talk_min_s",
    "talk_max_s",
    "schedule",
    "sender",
    "recipients",
    "text",
    "delay_s",
    "min_interval_s",
    "max_parts",
    "transliterate",
    "evidence",
)


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """Why a stored rule cannot be used: the rule, the column to fix, and what is wrong."""

    account: str
    rule: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"rule {self.rule!r} of account {self.account!r}: column {self.field}: {self.message}"


class StoredRuleInvalid(ValueError):
    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(problem) for problem in problems))


def _json_default(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a schedule")


def rule_to_columns(rule: Rule) -> dict[str, Any]:
    """The column values of a rule (name and account not included)."""
    document = rule_to_document(rule)
    when, then = document["when"], document["then"]
    talk = when.get("talk_s") or {}
    schedule = when.get("schedule")
    return {
        "enabled": rule.enabled,
        "direction": when["direction"],
        "statuses": encode_list(when["status"]),
        "numbers": "all" if when["numbers"] == "all" else encode_list(when["numbers"]),
        "talk_min_s": talk.get("min"),
        "talk_max_s": talk.get("max"),
        "schedule": None
        if schedule is None
        else json.dumps(schedule, default=_json_default, ensure_ascii=False, separators=(", ", ": ")),
        "sender": then["sender"],
        "recipients": encode_list(then["to"]),
        "text": then["text"],
        "delay_s": then["delay_s"],
        "min_interval_s": then["min_interval_s"],
        "max_parts": then.get("max_parts"),
        "transliterate": then["transliterate"],
        "evidence": encode_list(when["evidence"]) if "evidence" in when else None,
    }


def columns_to_document(name: str, columns: dict[str, Any]) -> dict[str, Any]:
    """Column values → the rule-file document (not validated). Raises StoredRuleInvalid on bad JSON."""
    numbers: Any = columns.get("numbers")
    if isinstance(numbers, str):
        numbers = "all" if numbers.strip() == "all" else decode_list(numbers)
    when: dict[str, Any] = {
        "direction": columns.get("direction"),
        "numbers": numbers,
        "status": decode_list(columns["statuses"]) if isinstance(columns.get("statuses"), str) else None,
    }
    talk = {key: columns.get(column) for key, column in (("min", "talk_min_s"), ("max", "talk_max_s"))}
    if any(value is not None for value in talk.values()):
        when["talk_s"] = {key: value for key, value in talk.items() if value is not None}
    evidence = columns.get("evidence")
    if isinstance(evidence, str) and evidence.strip():
        when["evidence"] = decode_list(evidence)
    schedule_text = columns.get("schedule")
    if schedule_text is not None and str(schedule_text).strip():
        try:
            when["schedule"] = json.loads(schedule_text)
        except (TypeError, ValueError) as exc:
            raise StoredRuleInvalid([RuleProblem("", name, "schedule", f"not valid JSON ({exc})")]) from None
    then: dict[str, Any] = {
        "sender": columns.get("sender"),
        "to": decode_list(columns["recipients"]) if isinstance(columns.get("recipients"), str) else None,
        "text": columns.get("text"),
        "delay_s": columns.get("delay_s"),
        "min_interval_s": columns.get("min_interval_s"),
        "transliterate": columns.get("transliterate"),
    }
    if columns.get("max_parts") is not None:
        then["max_parts"] = columns["max_parts"]
    enabled = columns.get("enabled")
    return {"name": name, "enabled": bool(enabled) if enabled is not None else None, "when": when, "then": then}


def column_of(loc: tuple[Any, ...]) -> str:
    """The column that a pydantic error location (in the rule-file shape) is about."""
    parts = [part for part in loc if isinstance(part, str)]
    if not parts:
        return "?"
    if parts[0] in ("name", "enabled"):
        return parts[0]
    if len(parts) < 2:
        return parts[0]
    section, key = parts[0], parts[1]
    if section == "when":
        if key == "status":
            return "statuses"
        if key == "talk_s":
            bound = parts[2] if len(parts) > 2 else ""
            return {"min": "talk_min_s", "max": "talk_max_s"}.get(bound, "talk_min_s/talk_max_s")
        return key
    if section == "then":
        return "recipients" if key == "to" else key
    return key


def columns_to_rule(account: str, name: str, columns: dict[str, Any]) -> Rule:
    """Validate a stored row; raises StoredRuleInvalid naming every column that is wrong."""
    try:
        document = columns_to_document(name, columns)
    except StoredRuleInvalid as exc:
        raise StoredRuleInvalid([RuleProblem(account, p.rule, p.field, p.message) for p in exc.problems]) from None
    try:
        return Rule.model_validate(document)
    except ValidationError as exc:
        problems = [
            RuleProblem(account, name, column_of(error_location(error)), _describe_error(error))
            for error in exc.errors(include_url=False)
        ]
        raise StoredRuleInvalid(problems) from None


def _describe_error(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    if error["type"] != "missing" and isinstance(given, str | int | float | bool) and "got" not in message:
        message += f", got {given!r}"
    return message
