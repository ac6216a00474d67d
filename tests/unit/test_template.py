"""SMS text templates: placeholder errors with positions, rendering, per-call values."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.template import PLACEHOLDERS, call_values, render, template_errors

ALL_NAMES = ("other_party", "number", "direction", "status", "talk_s", "talk_min", "date", "time", "rule")


def make_call(
    *,
    ended_at: datetime = datetime(2026, 11, 25, 9, 0, 30, tzinfo=UTC),
    talk_s: int = 0,
    direction: str = "in",
    status: str = "no_answer",
    number: str | None = "+48221234567",
) -> CompletedCall:
    return CompletedCall(
        call_id="1700000000.1",
        direction=direction,  # type: ignore[arg-type]
        number=number,
        other_party="+48601234567",
        status=status,  # type: ignore[arg-type]
        talk_s=talk_s,
        started_at=ended_at - timedelta(seconds=talk_s + 5),
        ended_at=ended_at,
    )


def only_error(text: str) -> str:
    errors = template_errors(text)
    assert len(errors) == 1, errors
    return errors[0]


# --- what is accepted ----------------------------------------------------------------------------------------------


def test_placeholder_set_is_the_documented_one() -> None:
    assert frozenset(ALL_NAMES) == PLACEHOLDERS


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_placeholder_is_accepted(name: str) -> None:
    assert template_errors(f"x {{{name}}} y") == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain text",
        "{{",
        "}}",
        "{{}}",
        "{{number}}",
        "{{{number}}}",
        "a {rule}{rule} b",
        "Zażółć 😀 {date}\n{time}",
    ],
)
def test_valid_texts(text: str) -> None:
    assert template_errors(text) == []


def test_double_braces_render_as_literal_braces() -> None:
    assert render("{{x}} {{{rule}}} }}{{", {"rule": "R"}) == "{x} {R} }{"


# --- every error kind, with its position -------------------------------------------------------------------------


def test_unknown_name_says_column_and_lists_allowed() -> None:
    error = only_error("Hello {name}!")
    assert error.startswith("column 7: unknown placeholder {name}")
    for name in ALL_NAMES:
        assert f"{{{name}}}" in error


def test_unknown_name_close_to_a_known_one_gets_a_suggestion() -> None:
    assert "did you mean {other_party}?" in only_error("{other_pary}")


def test_spaces_inside_braces_are_explained() -> None:
    error = only_error("call {  number }")
    assert error.startswith("column 6: unknown placeholder {  number }")
    assert "no spaces inside the braces: write {number}" in error


def test_positional_field_is_unknown() -> None:
    assert only_error("{0}").startswith("column 1: unknown placeholder {0}")


def test_attribute_access_is_rejected() -> None:
    error = only_error("x {number.real}")
    assert error.startswith("column 3: {number.real} uses attribute or index access ('.real')")
    assert "write just {number}" in error


def test_index_access_is_rejected() -> None:
    error = only_error("{rule[0]} ok")
    assert error.startswith("column 1: {rule[0]} uses attribute or index access ('[0]')")
    assert "write just {rule}" in error


def test_access_on_an_unknown_name_reports_both() -> None:
    errors = template_errors("{a[0]}")
    assert len(errors) == 2
    assert errors[0].startswith("column 1: unknown placeholder {a} in {a[0]}")
    assert "attribute or index access ('[0]')" in errors[1]


def test_format_spec_is_rejected() -> None:
    error = only_error("talk: {talk_s:>5}")
    assert error.startswith("column 7: {talk_s:>5} has a format spec (':>5')")
    assert "write just {talk_s}" in error


def test_empty_format_spec_is_rejected_too() -> None:
    assert "has a format spec (':')" in only_error("{talk_s:}")


def test_nested_format_spec_is_one_error() -> None:
    assert only_error("{talk_s:{rule}}").startswith("column 1: {talk_s:{rule}} has a format spec (':{rule}')")


def test_conversion_is_rejected() -> None:
    error = only_error("{rule!r}")
    assert error.startswith("column 1: {rule!r} has a conversion ('!r')")
    assert "write just {rule}" in error


def test_conversion_and_spec_are_both_reported() -> None:
    errors = template_errors("{rule!s:^9}")
    assert [error.split(" has ")[1].split(",")[0] for error in errors] == [
        "a conversion ('!s')",
        "a format spec (':^9')",
    ]


def test_field_without_name() -> None:
    errors = template_errors("{:>5}")
    assert errors[0].startswith("column 1: {:>5} has no placeholder name; allowed: {other_party}")
    assert "format spec (':>5')" in errors[1]


def test_empty_placeholder() -> None:
    error = only_error("a {} b")
    assert error.startswith("column 3: empty placeholder {}")
    assert "{other_party}" in error
    assert "{{}} for literal braces" in error


def test_single_open_brace() -> None:
    error = only_error("price { 10")
    assert error.startswith("column 7: '{' is never closed")
    assert "write {{ for a literal '{'" in error


def test_single_close_brace() -> None:
    error = only_error("smile :}")
    assert error.startswith("column 8: single '}' without an opening '{'")
    assert "write }} for a literal '}'" in error


def test_open_brace_before_a_valid_placeholder_is_reported_and_the_placeholder_still_checked() -> None:
    errors = template_errors("{a {rule} {bad}")
    assert errors[0].startswith("column 1: '{' is never closed")
    assert errors[1].startswith("column 11: unknown placeholder {bad}")
    assert len(errors) == 2


def test_unclosed_format_spec() -> None:
    assert only_error("{talk_s:{x}").startswith("column 1: '{' is never closed")


def test_extra_closing_brace_after_placeholder() -> None:
    assert only_error("{number}}").startswith("column 9: single '}'")
    assert only_error("{{number}").startswith("column 9: single '}'")


def test_every_problem_is_reported_in_order() -> None:
    errors = template_errors("Hi {name}, {talk_s:>3} } {rule.x} {}")
    assert [error.split(":")[0] for error in errors] == ["column 4", "column 12", "column 24", "column 26", "column 35"]


def test_multi_line_text_reports_line_and_column() -> None:
    assert only_error("Dzień dobry,\noddzwonimy {kiedy}").startswith("line 2, column 12: unknown placeholder {kiedy}")


def test_columns_count_characters_not_bytes() -> None:
    assert only_error("Zażółć 😀 {x}").startswith("column 10:")


# --- cross-check with str.format -----------------------------------------------------------------------------------

# Token soup: braces, the characters that start access/spec/conversion, names with and without braces.
template_texts = st.lists(
    st.one_of(
        st.sampled_from(list("{}{}{}:!.[]0 xą")),
        st.sampled_from(ALL_NAMES),
        st.sampled_from([f"{{{name}}}" for name in ALL_NAMES]),
    ),
    max_size=20,
).map("".join)
VALUES = {name: f"<{name}>" for name in ALL_NAMES}


def python_accepts(text: str) -> bool:
    """str.format's parser accepts it and every field is a plain known name."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return False
    return all(name is None or (name in PLACEHOLDERS and not spec and conv is None) for _, name, spec, conv in fields)


@settings(max_examples=500)
@given(template_texts)
def test_accepted_texts_render_like_str_format(text: str) -> None:
    errors = template_errors(text)
    if not errors:
        assert python_accepts(text)
        assert render(text, VALUES) == text.format_map(VALUES)
    else:
        assert all(error.startswith(("column ", "line ")) for error in errors)
        with pytest.raises(ValueError, match="invalid SMS text"):
            render(text, VALUES)


@settings(max_examples=500)
@given(template_texts)
def test_whatever_str_format_rejects_or_would_format_is_an_error(text: str) -> None:
    if not python_accepts(text):
        assert template_errors(text) != []


# --- rendering -----------------------------------------------------------------------------------------------------


def test_render_substitutes_values_verbatim() -> None:
    # A value that looks like a placeholder is not expanded again.
    assert render("{rule}: {number}", {"rule": "{number}", "number": "+48221234567"}) == "{number}: +48221234567"


def test_render_refuses_an_invalid_text() -> None:
    with pytest.raises(ValueError, match=r"column 1: unknown placeholder \{x\}"):
        render("{x}", VALUES)


def test_render_names_a_missing_value() -> None:
    with pytest.raises(ValueError, match=r"no value for placeholder \{talk_min\}"):
        render("{talk_min} min", {"talk_s": "5"})


def test_render_every_placeholder_for_a_call() -> None:
    call = make_call(ended_at=datetime(2026, 11, 25, 9, 0, 59, tzinfo=UTC), talk_s=125, status="answered")
    text = " | ".join(f"{{{name}}}" for name in ALL_NAMES)
    rendered = render(text, call_values(call, "Thank you", "Europe/Warsaw"))
    assert rendered == "+48601234567 | +48221234567 | in | answered | 125 | 3 | 2026-11-25 | 10:00 | Thank you"


def test_call_values_has_every_placeholder_and_only_strings() -> None:
    values = call_values(make_call(), "r", "Europe/Warsaw")
    assert set(values) == PLACEHOLDERS
    assert all(isinstance(value, str) for value in values.values())


@pytest.mark.parametrize("direction", ["in", "out"])
@pytest.mark.parametrize("status", ["answered", "no_answer", "busy", "failed"])
def test_direction_and_status_render_as_their_codes(direction: str, status: str) -> None:
    values = call_values(make_call(direction=direction, status=status), "r", "UTC")
    assert (values["direction"], values["status"]) == (direction, status)


@pytest.mark.parametrize(
    ("talk_s", "talk_min"),
    [(0, "0"), (1, "1"), (59, "1"), (60, "1"), (61, "2"), (120, "2"), (3600, "60"), (3601, "61")],
)
def test_talk_min_rounds_up(talk_s: int, talk_min: str) -> None:
    values = call_values(make_call(talk_s=talk_s), "r", "UTC")
    assert values["talk_s"] == str(talk_s)
    assert values["talk_min"] == talk_min


@pytest.mark.parametrize(
    ("ended_utc", "date", "time"),
    [
        # Spring forward in Warsaw: 2026-03-29 02:00 CET becomes 03:00 CEST (01:00 UTC).
        (datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC), "2026-03-29", "01:59"),
        (datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC), "2026-03-29", "03:00"),
        # Fall back: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:30 local happens twice.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "2026-10-25", "02:30"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25", "02:30"),
        (datetime(2026, 10, 25, 2, 30, tzinfo=UTC), "2026-10-25", "03:30"),
        # The local date differs from the UTC date around midnight.
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "2027-01-01", "00:30"),
        (datetime(2026, 7, 1, 22, 15, tzinfo=UTC), "2026-07-02", "00:15"),
    ],
)
def test_date_and_time_are_the_call_end_in_the_account_zone(ended_utc: datetime, date: str, time: str) -> None:
    values = call_values(make_call(ended_at=ended_utc), "r", "Europe/Warsaw")
    assert (values["date"], values["time"]) == (date, time)


def test_date_and_time_use_the_given_zone_not_the_datetimes_own() -> None:
    ended = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=1)))  # 09:00 UTC
    assert call_values(make_call(ended_at=ended), "r", "America/New_York")["time"] == "04:00"
    assert call_values(make_call(ended_at=ended), "r", "Asia/Kolkata")["time"] == "14:30"


def test_time_truncates_seconds() -> None:
    values = call_values(make_call(ended_at=datetime(2026, 11, 25, 9, 59, 59, tzinfo=UTC)), "r", "UTC")
    assert values["time"] == "09:59"


def test_naive_end_time_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        call_values(make_call(ended_at=datetime(2026, 11, 25, 9, 0)), "r", "Europe/Warsaw")


@pytest.mark.parametrize("zone", ["Europe/Warsawa", "", "../etc/passwd", "CET+1"])
def test_unknown_time_zone_is_named(zone: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone") as raised:
        call_values(make_call(), "r", zone)
    assert repr(zone) in str(raised.value)


def test_numbers_and_rule_name_render_as_given() -> None:
    values = call_values(make_call(number="+48221234567"), "Missed call - call back info", "UTC")
    assert values["number"] == "+48221234567"
    assert values["other_party"] == "+48601234567"
    assert values["rule"] == "Missed call - call back info"


def test_internal_call_without_company_number_renders_empty_number() -> None:
    assert call_values(make_call(direction="internal", number=None), "r", "UTC")["number"] == ""
