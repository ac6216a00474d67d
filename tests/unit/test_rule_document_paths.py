"""One rule given as data (a JSON body): a rule file's checks and messages, with field paths and no lines."""

from __future__ import annotations

from typing import Any

import pytest

from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_document

GOOD: dict[str, Any] = {
    "name": "missed",
    "when": {"direction": "in", "numbers": "all", "status": ["no_answer"]},
    "then": {"sender": "ACME", "to": ["other_party"], "text": "Sorry"},
}


def problems(document: Any) -> dict[str, str]:
    with pytest.raises(RuleFileInvalid) as raised:
        check_rule_document(document)
    assert all(error.line is None for error in raised.value.errors)
    return {error.field: error.message for error in raised.value.errors}


def test_a_good_document_is_a_rule() -> None:
    rule = check_rule_document(GOOD)
    assert (rule.name, rule.when.status, rule.then.text) == ("missed", ["no_answer"], "Sorry")


def test_paths_go_into_lists_and_leave_out_union_tags() -> None:
    found = problems({**GOOD, "when": {**GOOD["when"], "numbers": ["+48221234567", "nope"], "status": ["x"]}})
    assert set(found) == {"when.numbers[1]", "when.status[0]"}
    assert "E.164" in found["when.numbers[1]"]


def test_unknown_keys_are_named_with_a_hint_and_the_keys_allowed() -> None:
    found = problems({**GOOD, "then": {**GOOD["then"], "delay": 5}})
    assert found == {"then.delay": found["then.delay"]}
    assert "did you mean 'delay_s'?" in found["then.delay"] and "allowed here: sender, to, text" in found["then.delay"]


def test_template_errors_and_missing_keys() -> None:
    found = problems({"name": "x", "when": GOOD["when"], "then": {**GOOD["then"], "text": "{nme}"}, "enabled": "yes"})
    assert set(found) == {"then.text", "enabled"}
    assert "unknown placeholder {nme}" in found["then.text"]
    assert problems({"name": "x"}) == {"when": "missing required key", "then": "missing required key"}


@pytest.mark.parametrize("document", [None, [GOOD], "rule"])
def test_not_a_mapping(document: Any) -> None:
    assert list(problems(document)) == [""]
