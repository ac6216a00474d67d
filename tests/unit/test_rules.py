"""The rule model: what a valid rule is, what is rejected and with which message, canonical documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pbx_sms.core.rules import Rule, RuleFile, Schedule, rule_file_to_document, rule_to_document
from pbx_sms.core.schedule import WEEKDAYS


def rule_data(**changes: Any) -> dict[str, Any]:
    """A valid rule as plain data; ``changes`` maps dotted paths to new values (None deletes)."""
    data: dict[str, Any] = {
        "name": "Missed call",
        "when": {"direction": "in", "numbers": ["+48221234567"], "status": ["no_answer", "busy"]},
        "then": {"sender": "ACME", "to": ["other_party"], "text": "Oddzwonimy na {other_party}"},
    }
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target.setdefault(key, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return data


def errors_of(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str, str]]:
    with pytest.raises(ValidationError) as caught:
        Rule.model_validate(data)
    return [(error["loc"], error["type"], error["msg"]) for error in caught.value.errors()]


def single_error(data: dict[str, Any]) -> tuple[tuple[Any, ...], str, str]:
    errors = errors_of(data)
    assert len(errors) == 1, errors
    return errors[0]


def test_minimal_rule_has_documented_defaults() -> None:
    rule = Rule.model_validate(rule_data())
    assert rule.enabled is True
    assert rule.when.talk_s is None and rule.when.schedule is None
    assert (rule.then.delay_s, rule.then.min_interval_s, rule.then.max_parts, rule.then.transliterate) == (
        0,
        0,
        None,
        False,
    )


class TestSender:
    @pytest.mark.parametrize(
        "sender", ["ACME", "A", "ACME-PL_1.x", "My Shop", "Sklep 24", "48600100100", "+48600100100"]
    )
    def test_accepted(self, sender: str) -> None:
        assert Rule.model_validate(rule_data(**{"then.sender": sender})).then.sender == sender

    @pytest.mark.parametrize(
        "sender",
        [
            "",
            "ABCDEFGHIJKL",
            "ACME!",
            " ACME",
            "ACME ",
            "Żabka",
            "12345",
            "1234567890123456",
            "600-100-100",
            "4860010010a0",
        ],
    )
    def test_rejected(self, sender: str) -> None:
        loc, kind, message = single_error(rule_data(**{"then.sender": sender}))
        assert loc == ("then", "sender")
        assert kind == "sender_id"
        assert "sender ID" in message

    def test_unquoted_number_hint(self) -> None:
        loc, kind, message = single_error(rule_data(**{"then.sender": 48600100100}))
        assert (loc, kind) == (("then", "sender"), "quote_string")
        assert "quotes" in message


class TestWhen:
    def test_numbers_all(self) -> None:
        assert Rule.model_validate(rule_data(**{"when.numbers": "all"})).when.numbers == "all"

    @pytest.mark.parametrize("numbers", ["alll", "+48221234567", 5])
    def test_numbers_neither_all_nor_list(self, numbers: Any) -> None:
        loc, kind, message = single_error(rule_data(**{"when.numbers": numbers}))
        assert loc == ("when", "numbers") and kind == "numbers"
        assert "all" in message and "E.164" in message

    def test_each_bad_number_named_by_index(self) -> None:
        errors = errors_of(rule_data(**{"when.numbers": ["+48221234567", "221234567", "+4822"]}))
        assert [(loc, kind) for loc, kind, _ in errors] == [
            (("when", "numbers", "list", 1), "e164"),
            (("when", "numbers", "list", 2), "e164"),
        ]

    def test_numbers_empty_or_repeated(self) -> None:
        assert single_error(rule_data(**{"when.numbers": []}))[1] == "too_short"
        assert single_error(rule_data(**{"when.numbers": ["+48221234567", "+48221234567"]}))[1] == "duplicate"

    @pytest.mark.parametrize("direction", ["in", "out", "any"])
    def test_directions(self, direction: str) -> None:
        assert Rule.model_validate(rule_data(**{"when.direction": direction})).when.direction == direction

    @pytest.mark.parametrize("direction", ["internal", "both", ""])
    def test_bad_direction(self, direction: str) -> None:
        assert single_error(rule_data(**{"when.direction": direction}))[0] == ("when", "direction")

    def test_status(self) -> None:
        assert single_error(rule_data(**{"when.status": []}))[1] == "too_short"
        assert single_error(rule_data(**{"when.status": ["answered", "missed"]}))[0] == ("when", "status", 1)
        assert single_error(rule_data(**{"when.status": ["busy", "busy"]}))[1] == "duplicate"
        rule = Rule.model_validate(rule_data(**{"when.status": ["answered", "no_answer", "busy", "failed"]}))
        assert len(rule.when.status) == 4

    def test_talk_bounds(self) -> None:
        rule = Rule.model_validate(rule_data(**{"when.talk_s": {"min": 5, "max": 5}}))
        assert (rule.when.talk_s.min, rule.when.talk_s.max) == (5, 5)
        loc, kind, message = single_error(rule_data(**{"when.talk_s": {"min": 30, "max": 10}}))
        assert (loc, kind) == (("when", "talk_s"), "talk_bounds") and "30" in message
        assert single_error(rule_data(**{"when.talk_s": {"min": -1}}))[0] == ("when", "talk_s", "min")
        assert single_error(rule_data(**{"when.talk_s": {"max": True}}))[0] == ("when", "talk_s", "max")
        assert single_error(rule_data(**{"when.talk_s": {"max": 1.5}}))[0] == ("when", "talk_s", "max")


class TestSchedule:
    def test_full_schedule(self) -> None:
        schedule = Schedule.model_validate(
            {
                "dates": [{"from": "2026-12-01", "to": "2026-12-24"}],
                "weekdays": ["mon", "fri"],
                "hours": [{"from": "18:00", "to": "08:00"}, {"from": "8:05", "to": "24:00"}],
            }
        )
        assert [(window.from_, window.to) for window in schedule.hours or []] == [
            ("18:00", "08:00"),
            ("08:05", "24:00"),
        ]

    def test_yaml_sexagesimal_time_is_rejected_with_quote_hint(self) -> None:
        loc, kind, message = single_error(rule_data(**{"when.schedule": {"hours": [{"from": 1080, "to": "08:00"}]}}))
        assert loc == ("when", "schedule", "hours", 0, "from")
        assert kind == "clock_unquoted"
        assert 'write "18:00"' in message and "quotes" in message

    @pytest.mark.parametrize("bad", ["24:00", "7", "12:60", "noon", 7.5])
    def test_bad_from(self, bad: Any) -> None:
        loc, _, _ = single_error(rule_data(**{"when.schedule": {"hours": [{"from": bad, "to": "08:00"}]}}))
        assert loc == ("when", "schedule", "hours", 0, "from")

    def test_weekdays(self) -> None:
        assert single_error(rule_data(**{"when.schedule": {"weekdays": ["mon", "mon"]}}))[1] == "duplicate"
        assert single_error(rule_data(**{"when.schedule": {"weekdays": ["monday"]}}))[0] == (
            "when",
            "schedule",
            "weekdays",
            0,
        )
        assert single_error(rule_data(**{"when.schedule": {"weekdays": []}}))[1] == "too_short"

    def test_date_range_order(self) -> None:
        loc, kind, message = single_error(
            rule_data(**{"when.schedule": {"dates": [{"from": "2026-12-24", "to": "2026-12-01"}]}})
        )
        assert (loc, kind) == (("when", "schedule", "dates", 0), "dates_order")
        assert "2026-12-24" in message
        one_day = Rule.model_validate(
            rule_data(**{"when.schedule": {"dates": [{"from": "2026-12-24", "to": "2026-12-24"}]}})
        )
        assert one_day.when.schedule is not None


class TestThen:
    def test_recipients(self) -> None:
        rule = Rule.model_validate(rule_data(**{"then.to": ["other_party", "+48600100100"]}))
        assert rule.then.to == ["other_party", "+48600100100"]
        errors = errors_of(rule_data(**{"then.to": ["caller", "600100100", "other_party"]}))
        assert [(loc, kind) for loc, kind, _ in errors] == [
            (("then", "to", 0), "recipient"),
            (("then", "to", 1), "recipient"),
        ]
        assert single_error(rule_data(**{"then.to": []}))[1] == "too_short"
        assert single_error(rule_data(**{"then.to": ["other_party", "other_party"]}))[1] == "duplicate"

    @pytest.mark.parametrize("text", ["", "   ", "\n"])
    def test_empty_text(self, text: str) -> None:
        assert single_error(rule_data(**{"then.text": text}))[1] == "text_empty"

    def test_template_errors_are_reported(self) -> None:
        loc, kind, message = single_error(rule_data(**{"then.text": "Hi {nmber} {talk_s:>5} {other_party.real}"}))
        assert (loc, kind) == (("then", "text"), "template")
        assert "{nmber}" in message and "format spec" in message and "attribute" in message

    def test_literal_braces_are_fine(self) -> None:
        assert Rule.model_validate(rule_data(**{"then.text": "Kod {{ABC}} dla {other_party}"}))

    @pytest.mark.parametrize(
        ("field", "value"),
        [("delay_s", -1), ("min_interval_s", -5), ("max_parts", 0), ("max_parts", 256), ("delay_s", "soon")],
    )
    def test_numbers_out_of_range(self, field: str, value: Any) -> None:
        assert single_error(rule_data(**{f"then.{field}": value}))[0] == ("then", field)

    def test_transliterate_must_be_boolean(self) -> None:
        assert single_error(rule_data(**{"then.transliterate": "maybe"}))[0] == ("then", "transliterate")


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("", "enable"),
        ("when.", "statuses"),
        ("then.", "delay"),
        ("when.talk_s.", "minimum"),
        ("when.schedule.", "hour"),
    ],
)
def test_unknown_keys_are_errors(path: str, key: str) -> None:
    data = rule_data(**{"when.talk_s": {"min": 1}, "when.schedule": {"weekdays": ["mon"]}})
    target = data
    for part in filter(None, path.split(".")):
        target = target[part]
    target[key] = 60
    loc, kind, _ = single_error(data)
    assert kind == "extra_forbidden"
    assert loc == (*filter(None, path.split(".")), key)


def test_rule_name_rules() -> None:
    assert single_error(rule_data(name=" "))[1] == "name_empty"
    assert single_error(rule_data(name="two\nlines"))[1] == "name_chars"
    assert single_error(rule_data(name="x" * 201))[1] == "string_too_long"


def test_rule_names_unique_in_a_file() -> None:
    with pytest.raises(ValidationError, match="unique"):
        RuleFile.model_validate({"rules": [rule_data(), rule_data()]})
    assert RuleFile.model_validate({"rules": [rule_data(), rule_data(name="Other")]}).account == "default"


def test_rules_are_frozen() -> None:
    rule = Rule.model_validate(rule_data())
    with pytest.raises(ValidationError):
        rule.enabled = False  # type: ignore[misc]
    assert rule.model_copy(update={"enabled": False}).enabled is False


class TestDocument:
    def test_key_order_and_left_out_parts(self) -> None:
        document = rule_to_document(Rule.model_validate(rule_data()))
        assert list(document) == ["name", "enabled", "when", "then"]
        assert list(document["when"]) == ["direction", "numbers", "status"]
        assert list(document["then"]) == ["sender", "to", "text", "delay_s", "min_interval_s", "transliterate"]

    def test_full_rule_document(self) -> None:
        data = rule_data(
            **{
                "when.talk_s": {"max": 30},
                "when.schedule": {
                    "weekdays": ["fri", "mon"],
                    "hours": [{"from": "8:00", "to": "16:00"}],
                    "dates": [{"from": "2026-12-01", "to": "2026-12-24"}],
                },
                "then.max_parts": 2,
            }
        )
        document = rule_to_document(Rule.model_validate(data))
        assert document["when"]["talk_s"] == {"max": 30}
        assert list(document["when"]["schedule"]) == ["dates", "weekdays", "hours"]
        assert document["when"]["schedule"]["weekdays"] == ["mon", "fri"]  # week order
        assert document["when"]["schedule"]["hours"] == [{"from": "08:00", "to": "16:00"}]
        assert document["then"]["max_parts"] == 2
        assert Rule.model_validate(document) == Rule.model_validate(data)


phone_numbers = st.sampled_from(["+48221234567", "+48221234568", "+48600100100", "+491701234567"])
clocks = st.integers(0, 1439).map(lambda minutes: f"{minutes // 60:02d}:{minutes % 60:02d}")
optional = st.none() | st.integers(0, 10_000)


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    data = rule_data(
        name=draw(
            st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=40).filter(
                str.strip
            )
        ),
        **{
            "when.direction": draw(st.sampled_from(["in", "out", "any"])),
            "when.numbers": draw(st.just("all") | st.lists(phone_numbers, min_size=1, unique=True)),
            "when.status": draw(
                st.lists(st.sampled_from(["answered", "no_answer", "busy", "failed"]), min_size=1, unique=True)
            ),
            "then.to": draw(
                st.lists(st.sampled_from(["other_party", "+48600100100", "+48500100200"]), min_size=1, unique=True)
            ),
            "then.text": draw(
                st.sampled_from(["Dziękujemy!", "Oddzwonimy na {other_party}", "{{x}} {date} {time}\nok"])
            ),
            "then.delay_s": draw(st.integers(0, 10**6)),
            "then.transliterate": draw(st.booleans()),
        },
    )
    data["enabled"] = draw(st.booleans())
    low, high = draw(optional), draw(optional)
    if low is not None or high is not None:
        bounds = {"min": low, "max": high}
        if low is not None and high is not None and low > high:
            bounds = {"min": high, "max": low}
        data["when"]["talk_s"] = {key: value for key, value in bounds.items() if value is not None}
    if draw(st.booleans()):
        data["when"]["schedule"] = {
            "weekdays": draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True)),
            "hours": [{"from": draw(clocks), "to": draw(clocks)}],
        }
    return data


@settings(max_examples=60)
@given(data=rules())
def test_document_round_trip(data: dict[str, Any]) -> None:
    rule = Rule.model_validate(copy.deepcopy(data))
    document = rule_to_document(rule)
    assert Rule.model_validate(document) == rule
    assert rule_to_document(Rule.model_validate(document)) == document
    assert rule_file_to_document(RuleFile(rules=[rule]))["rules"] == [document]
