"""The rule text preview: rendered text, encoding, parts, units left, UCS-2 characters, transliteration."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pbx_sms.core.encoding import GSM7_CHARS, analyse, is_gsm7, transliterate
from pbx_sms.core.preview import measure, preview
from pbx_sms.manage.rule_views import SAMPLE_VALUES, preview_text

# Characters that exercise every path: GSM-7 basic and extension, Polish (transliterable), an emoji
# (a surrogate pair), Cyrillic (stays UCS-2).
ALPHABET = st.sampled_from(list("abc XYZ 019 @£é\n") + list("€[]^~|\\") + list("ąłżŁ„”–") + ["😀", "Ж", "ó"])
TEXTS = st.lists(ALPHABET, max_size=400).map("".join)
ONE_UNIT = "a"  # a GSM-7 basic character: one unit in either encoding, never changes the encoding


@settings(max_examples=400, deadline=None)
@given(TEXTS)
@example("")
@example("a" * 160)
@example("a" * 161)
@example("a" * 152 + "€")
@example("ą" * 70)
@example("ą" * 66 + "😀")
def test_measure_agrees_with_analyse(text: str) -> None:
    shape = analyse(text)
    measured = measure(text)
    assert (measured.encoding, measured.parts, measured.characters) == (shape.encoding, shape.parts, shape.units)
    assert measured.left_in_last_part >= 0
    # Filling what is left keeps the parts; one more unit needs another part (or splits a single SMS).
    assert analyse(text + ONE_UNIT * measured.left_in_last_part).parts == shape.parts
    assert analyse(text + ONE_UNIT * (measured.left_in_last_part + 1)).parts > shape.parts


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_ucs2_characters_are_exactly_those_outside_gsm7(text: str) -> None:
    found = measure(text).ucs2_characters
    assert (not found) == is_gsm7(text)
    assert len({item.character for item in found}) == len(found)
    listed = sorted(position for item in found for position in item.positions)
    assert listed == [index for index, char in enumerate(text) if char not in GSM7_CHARS]
    for item in found:
        assert all(text[position] == item.character for position in item.positions)


def test_known_counts() -> None:
    single = measure("a" * 150)
    assert (single.encoding, single.parts, single.characters, single.left_in_last_part) == ("GSM-7", 1, 150, 10)
    # 161 septets: 2 parts of up to 153; the last holds 8.
    split = measure("a" * 161)
    assert (split.parts, split.left_in_last_part) == (2, 153 - 8)
    # € takes 2 septets.
    assert measure("€" * 10).characters == 20
    ucs2 = measure("Cześć")
    assert (ucs2.encoding, ucs2.characters, ucs2.left_in_last_part) == ("UCS-2", 5, 65)
    assert [(item.character, item.positions) for item in ucs2.ucs2_characters] == [("ś", (3,)), ("ć", (4,))]


def test_placeholders_take_the_call_values_and_samples_for_the_rest() -> None:
    shown = preview_text("Call from {other_party} at {time}", transliterated=False, call={"time": "09:30"})
    assert shown.sent.text == f"Call from {SAMPLE_VALUES['other_party']} at 09:30"
    assert shown.problems == ()


def test_a_caller_id_that_is_no_number_is_shown_as_the_sms_would_say_it() -> None:
    shown = preview_text("From {other_party}", transliterated=False, call={"other_party": "Jan <evil>"})
    assert shown.sent.text == "From unknown number"


def test_transliteration_shows_what_the_text_becomes_whatever_the_flag() -> None:
    off = preview_text("Dziękujemy za telefon", transliterated=False)
    assert off.sent.text == "Dziękujemy za telefon"
    assert (off.sent.encoding, off.transliterated.text, off.transliterated.encoding) == (
        "UCS-2",
        "Dziekujemy za telefon",
        "GSM-7",
    )
    on = preview_text("Dziękujemy za telefon", transliterated=True)
    assert on.sent == on.transliterated == off.transliterated


def test_an_emoji_stays_ucs2_after_transliteration() -> None:
    shown = preview_text("Oddzwonię 😀", transliterated=True)
    assert shown.sent.text == transliterate("Oddzwonię 😀") == "Oddzwonie 😀"
    assert [(item.character, item.positions) for item in shown.sent.ucs2_characters] == [("😀", (10,))]


def test_unknown_placeholder_is_a_problem_and_the_text_is_measured_as_written() -> None:
    shown = preview_text("Hello {nmber}", transliterated=False)
    assert shown.sent.text == "Hello {nmber}"
    assert [problem.field for problem in shown.problems] == ["text"]
    assert "unknown placeholder {nmber}" in shown.problems[0].message
    assert "did you mean {number}?" in shown.problems[0].message


def test_too_many_parts_is_a_problem() -> None:
    shown = preview("a" * (153 * 255 + 1), {}, transliterated=False)
    assert shown.sent.parts == 256
    assert [problem.field for problem in shown.problems] == ["text"]
    assert "at most 255" in shown.problems[0].message


def test_json_shape() -> None:
    data = preview_text("€ ą", transliterated=False).as_json()
    assert set(data) == {
        "text",
        "encoding",
        "parts",
        "characters",
        "left_in_last_part",
        "ucs2_characters",
        "transliterated",
        "problems",
    }
    assert data["ucs2_characters"] == [{"character": "ą", "positions": [2]}]
    assert set(data["transliterated"]) == set(data) - {"transliterated", "problems"}
