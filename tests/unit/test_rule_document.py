"""One rule given as data (an API body): the rule file's checks and messages, paths relative to the rule."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_document, parse_rule_text


def document(**then: Any) -> dict[str, Any]:
    return {
        "name": "Missed",
        "when": {"direction": "in", "numbers": ["+48221234567"], "status": ["busy"]},
        "then": {"sender": "ACME", "to": ["other_party"], "text": "Hi", **then},
    }


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(RuleFileInvalid) as invalid:
        check_rule_document(data)
    assert all(error.line is None for error in invalid.value.errors)
    return [(error.field, error.message) for error in invalid.value.errors]


def test_a_valid_document_is_the_rule_a_file_gives() -> None:
    data = document()
    data["when"]["schedule"] = {"dates": [{"from": "2026-12-01", "to": "2026-12-24"}]}
    rule = check_rule_document(data)
    assert rule.when.schedule is not None and rule.when.schedule.dates is not None
    assert rule.when.schedule.dates[0].from_ == date(2026, 12, 1)
    from_file = parse_rule_text(
        "rules:\n  - name: Missed\n    when: {direction: in, numbers: ['+48221234567'], status: [busy],"
        " schedule: {dates: [{from: 2026-12-01, to: 2026-12-24}]}}\n"
        "    then: {sender: ACME, to: [other_party], text: Hi}\n"
    )
    assert rule == from_file.rules[0]


def test_paths_skip_the_union_tag_of_numbers_and_name_list_items() -> None:
    data = document()
    data["when"]["numbers"] = ["+48221234567", "12"]
    data["when"]["status"] = ["busy", "nope"]
    found = dict(problems(data))
    assert list(found) == ["when.numbers[1]", "when.status[1]"]
    assert found["when.numbers[1]"].startswith("expected a phone number in E.164 form")


def test_unknown_keys_are_named_with_the_keys_allowed_at_that_level() -> None:
    assert problems(document(delay=5)) == [
        (
            "then.delay",
            "unknown key (did you mean 'delay_s'?); allowed here: "
            "sender, to, text, delay_s, min_interval_s, max_parts, transliterate",
        )
    ]
    assert problems({**document(), "whne": {}})[0][1].startswith("unknown key (did you mean 'when'?)")


def test_a_text_too_long_for_its_rule_is_about_the_text() -> None:
    # 20 000 characters that need UCS-2: 299 parts, more than an SMS can have (checked on the whole rule).
    fields = [field for field, _ in problems(document(text="ą" * 20_000))]
    assert fields == ["then.text"]


def test_not_a_mapping() -> None:
    assert problems(["x"]) == [("", "expected a mapping (key: value), got a list")]
