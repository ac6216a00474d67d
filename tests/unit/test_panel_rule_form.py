"""The rule form ↔ rule conversion (pure): a stored rule survives the form unchanged, the form's own
shapes are parsed, and each rule-file path lands on its form field."""

from __future__ import annotations

import pytest

from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.core.rules import rule_to_document
from pbx_sms.web.pages.render import translator
from pbx_sms.web.pages.rule_form import (
    WHOLE_FORM,
    RuleForm,
    checked_rule,
    document_of_form,
    field_of,
    form_of_post,
    form_of_rule,
)

_ = translator("en")
RULE = parse_rule_text(
    """
rules:
  - name: Full
    when:
      direction: any
      numbers: ["+48221234567"]
      status: [answered, failed]
      talk_s: {min: 5, max: 60}
      schedule:
        weekdays: [mon, sun]
        hours: [{from: "22:00", to: "06:00"}, {from: "12:00", to: "13:00"}]
        dates: [{from: 2025-12-24, to: 2025-12-26}]
    then:
      sender: ACME
      to: [other_party, "+48600100200"]
      text: "Dzień dobry {other_party}"
      delay_s: 30
      min_interval_s: 600
      max_parts: 3
      transliterate: true
"""
).rules[0]


def test_a_rule_through_the_form_and_back_is_the_same_rule() -> None:
    document, problems = document_of_form(form_of_rule(RULE), True, _)
    assert problems == {}
    rule, problems = checked_rule(document)
    assert problems == {} and rule is not None
    assert rule_to_document(rule) == rule_to_document(RULE)


def test_a_post_with_repeated_fields_is_read_as_lists() -> None:
    form = form_of_post({"name": ["x"], "status": ["busy", "failed"], "numbers_all": ["1"], "text": ["a\r\nb"]})
    assert (form.status, form.numbers_all, form.text, form.to_other_party) == (["busy", "failed"], True, "a\nb", False)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"delay_s": "1.5"}, "delay_s", "expected a whole number, got '1.5'"),
        ({"hours": "8-16"}, "hours", "expected HH:MM-HH:MM: '8-16'"),
        ({"dates": "2025-12-24"}, "dates", "expected YYYY-MM-DD..YYYY-MM-DD: '2025-12-24'"),
    ],
)
def test_the_forms_own_shapes_are_checked_at_their_field(changes: dict[str, str], field: str, message: str) -> None:
    form = RuleForm(name="r", sender="ACME", text="t", **changes)
    _document, problems = document_of_form(form, True, _)
    assert problems == {field: [message]}


def test_an_empty_form_gets_the_rule_files_messages_at_the_fields() -> None:
    document, _problems = document_of_form(RuleForm(status=[], to_other_party=False), True, _)
    rule, problems = checked_rule(document)
    assert rule is None
    assert {"name", "status", "sender", "to", "text"} <= set(problems)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("rules[0].when.status[1]", "status"),
        ("rules[0].when.schedule.hours[0].from", "hours"),
        ("rules[0].when.talk_s", "talk"),
        ("rules[0].then.to[2]", "to"),
        ("rules[0].then.text", "text"),
        ("rules[0].name", "name"),
        ("rules[0].then", WHOLE_FORM),
        ("when.numbers", "numbers"),
    ],
)
def test_each_rule_file_path_lands_on_its_form_field(path: str, field: str) -> None:
    assert field_of(path) == field
