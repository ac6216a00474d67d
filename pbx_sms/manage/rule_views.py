"""How a rule is shown by `pbx-sms rules list|show` and the API: its conditions in one line, its text's
encoding and parts, a warning for a long text, and the JSON of a stored rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pbx_sms.core.encoding import analyse, transliterate
from pbx_sms.core.preview import Preview, preview
from pbx_sms.core.rules import Rule, rule_to_document
from pbx_sms.core.template import other_party_text, render
from pbx_sms.core.text_size import text_size
from pbx_sms.storage.rule_store import StoredRule

# Typical values, to show the encoding and parts of texts with placeholders.
SAMPLE_VALUES: Final = {
    "other_party": "+48600100200",
    "number": "+48221234567",
    "direction": "in",
    "status": "no_answer",
    "talk_s": "125",
    "talk_min": "3",
    "date": "2025-01-31",
    "time": "18:05",
}
# {rule} in a text previewed before the rule has a name.
SAMPLE_RULE_NAME: Final = "missed call"


def text_shape(rule: Rule) -> dict[str, Any]:
    """Encoding and parts of the rule's text; ``exact`` is False when placeholders make it vary."""
    text = render(rule.then.text, {**SAMPLE_VALUES, "rule": rule.name})
    if rule.then.transliterate:
        text = transliterate(text)
    shape = analyse(text)
    return {"encoding": shape.encoding, "parts": shape.parts, "exact": text == rule.then.text}


def preview_text(text: str, *, transliterated: bool, call: Mapping[str, str] | None = None) -> Preview:
    """The preview of a text being written: ``call`` gives placeholder values, the others are samples.
    A given other party is shown as an SMS would say it (a caller ID that is no number: "unknown number")."""
    values = {**SAMPLE_VALUES, "rule": SAMPLE_RULE_NAME, **(call or {})}
    values["other_party"] = other_party_text(values["other_party"])
    return preview(text, values, transliterated=transliterated)


def text_warning(rule: Rule) -> str | None:
    """The warning for a text of more than WARN_PARTS parts; None when shorter."""
    return text_size(rule.then.text, rule.name, rule.then.transliterate).warning()


def size_warning(rule: Rule) -> str | None:
    """``text_warning`` naming the rule, for a list of many rules (the CLI's)."""
    warning = text_warning(rule)
    return None if warning is None else f"rule {rule.name!r}: {warning}"


def conditions_summary(rule: Rule) -> str:
    when = rule.when
    parts = [when.direction, ",".join(when.status)]
    parts.append("all numbers" if when.numbers == "all" else ",".join(when.numbers))
    if when.talk_s is not None:
        if when.talk_s.min is not None:
            parts.append(f"talk>={when.talk_s.min}s")
        if when.talk_s.max is not None:
            parts.append(f"talk<={when.talk_s.max}s")
    schedule = when.schedule
    if schedule is not None:
        if schedule.weekdays:
            parts.append(",".join(schedule.weekdays))
        if schedule.hours:
            parts.append(",".join(f"{window.from_}-{window.to}" for window in schedule.hours))
        if schedule.dates:
            parts.append(",".join(f"{item.from_}..{item.to}" for item in schedule.dates))
    return "; ".join(parts)


def stored_json(stored: StoredRule) -> dict[str, Any]:
    data: dict[str, Any] = {"name": stored.name, "enabled": stored.enabled, "valid": stored.valid}
    if stored.rule is not None:
        data.update(rule_to_document(stored.rule))
        data["enabled"] = stored.enabled
        data["text_encoding"] = text_shape(stored.rule)
        warning = size_warning(stored.rule)
        data["warnings"] = [] if warning is None else [warning]
    if stored.problems:
        data["problems"] = [{"field": problem.field, "message": problem.message} for problem in stored.problems]
    data["updated_at"] = stored.updated_at.isoformat() if stored.updated_at else None
    return data
