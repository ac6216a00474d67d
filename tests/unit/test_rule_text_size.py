"""A rule's text has a bounded size: refused when any call could make it more than 255 parts, warned
about above 6 parts, never suppressed for being long."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.matching import AccountPolicy, match_call
from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_file, parse_rule_text
from pbx_sms.core.rules import Rule
from pbx_sms.core.text_size import MAX_TEXT_CHARS, WARN_PARTS, text_size
from pbx_sms.storage.rule_rows import StoredRuleInvalid, columns_to_rule, rule_to_columns

PART = 153  # GSM-7 septets per part of a concatenated SMS


def rule_data(text: str, *, name: str = "Missed call", transliterate: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "when": {"direction": "in", "numbers": "all", "status": ["no_answer"]},
        "then": {"sender": "ACME", "to": ["other_party"], "text": text, "transliterate": transliterate},
    }


def refusal(data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        Rule.model_validate(data)
    (error,) = caught.value.errors()
    return dict(error)


def test_20000_polish_letters_are_299_ucs2_parts_and_refused() -> None:
    error = refusal(rule_data("Ł" * 20_000))
    assert error["type"] == "text_too_long"
    assert "299 parts (UCS-2)" in error["msg"] and "at most 255" in error["msg"]


def test_the_same_text_transliterated_is_131_gsm7_parts_and_accepted() -> None:
    rule = Rule.model_validate(rule_data("Ł" * 20_000, transliterate=True))
    assert text_size(rule.then.text, rule.name, transliterated=True).max_parts == 131


def test_a_10_mb_text_is_refused_by_its_length_alone() -> None:
    error = refusal(rule_data("x" * 10_000_000))
    assert error["type"] == "text_too_long"
    assert f"at most {MAX_TEXT_CHARS}" in error["msg"]


def test_exactly_255_parts_is_allowed_one_character_more_is_not() -> None:
    Rule.model_validate(rule_data("a" * (255 * PART)))
    assert refusal(rule_data("a" * (255 * PART + 1)))["type"] == "text_too_long"
    # One character too many for 255 GSM-7 parts when it is Polish: 39,015 UCS-2 units are 583 parts.
    assert "583 parts (UCS-2)" in refusal(rule_data("a" * (255 * PART - 1) + "ł"))["msg"]


def test_a_placeholder_counts_with_the_longest_value_it_can_take() -> None:
    # 39,014 characters as written, 39,013 with a Polish mobile number: 255 parts for that caller, but an
    # international number of 15 digits makes it 256 - so it can exceed, and is refused.
    text = "a" * (255 * PART - 14) + "{other_party}"
    error = refusal(rule_data(text))
    assert error["type"] == "text_too_long" and "up to 256 parts" in error["msg"]


def test_rule_counts_with_the_rule_name_itself() -> None:
    # A GSM-7 text whose {rule} is a Polish name: UCS-2, 67 per part.
    size = text_size("a" * 300 + " {rule}", "Łódź", transliterated=False)
    assert (size.encoding, size.max_parts, size.exact) == ("UCS-2", 5, True)
    Rule.model_validate(rule_data("a" * 17_000 + "{rule}", name="Lodz"))
    assert "UCS-2" in refusal(rule_data("a" * 17_100 + "{rule}", name="Łódź"))["msg"]


def test_more_than_6_parts_is_a_warning_not_an_error() -> None:
    assert text_size("a" * (WARN_PARTS * PART), "r", False).warning() is None
    warning = text_size("a" * (WARN_PARTS * PART) + "{other_party}", "r", False).warning()
    assert warning is not None and "up to 7 parts (GSM-7), more than 6" in warning


def test_a_long_text_is_sent_not_suppressed() -> None:
    """No new default limits a rule's parts: a 10-part text that validated before is still sent."""
    rule = Rule.model_validate(rule_data("a" * (10 * PART)))
    ended = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    call = CompletedCall("1", "in", "+48221234567", "+48601234567", "no_answer", 0, ended, ended)
    (planned,) = match_call(call, AccountPolicy("default", "Europe/Warsaw", "PL"), [rule])
    assert (planned.parts, planned.reason) == (10, None)


def test_rule_file_error_points_at_the_text_line() -> None:
    text = (
        "rules:\n  - name: Long\n    when: {direction: in, numbers: all, status: [busy]}\n"
        f'    then:\n      sender: ACME\n      to: [other_party]\n      text: "{"Ł" * 20_000}"\n'
    )
    with pytest.raises(RuleFileInvalid) as caught:
        parse_rule_text(text, "long.yaml")
    (error,) = caught.value.errors
    assert (error.file, error.line, error.field) == ("long.yaml", 7, "rules[0].then.text")


def test_rule_file_warning_points_at_the_text_line(tmp_path: Any) -> None:
    path = tmp_path / "long.yaml"
    path.write_text(
        "rules:\n  - name: Long\n    when: {direction: in, numbers: all, status: [busy]}\n"
        f'    then:\n      sender: ACME\n      to: [other_party]\n      text: "{"a" * 8 * PART}"\n',
        encoding="utf-8",
    )
    (warning,) = check_rule_file(path).warnings
    assert (warning.line, warning.field) == (7, "rules[0].then.text")
    assert warning.message.startswith("warning: the text takes 8 parts (GSM-7)")


def test_a_stored_row_with_a_text_too_long_names_the_text_column() -> None:
    columns = rule_to_columns(Rule.model_validate(rule_data("Hello")))
    columns["text"] = "Ł" * 20_000
    with pytest.raises(StoredRuleInvalid) as caught:
        columns_to_rule("default", "Missed call", columns)
    (problem,) = caught.value.problems
    assert problem.field == "text" and "299 parts" in problem.message
