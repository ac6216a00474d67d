"""SMS encoding per GSM 03.38: alphabet, units, parts, part boundaries, transliteration."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pbx_sms.core.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    analyse,
    is_gsm7,
    transliterate,
)

# The GSM 03.38 tables, typed in again from the standard (not imported), so a typo in either copy shows.
# Default alphabet in code order 0x00..0x7F; 0x1B is the escape to the extension table.
SPEC_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
SPEC_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E}
SPEC_EXTENSION |= {"|": 0x40, "€": 0x65}
ESC = 0x1B
POLISH = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"
EMOJI = "😀"


def gsm7_septets(text: str) -> list[int]:
    """A reference GSM-7 encoder (unpacked septets), independent of the module under test."""
    septets: list[int] = []
    for char in text:
        if char in SPEC_EXTENSION:
            septets += [ESC, SPEC_EXTENSION[char]]
        else:
            code = SPEC_BASIC.index(char)
            assert code != ESC
            septets.append(code)
    return septets


def utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def real_units(text: str, encoding: str) -> list[int]:
    return gsm7_septets(text) if encoding == "GSM-7" else utf16_units(text)


def greedy_parts(text: str, encoding: str) -> list[str]:
    """A reference split into the parts a phone receives: as many whole characters per part as fit
    (an escape pair or a surrogate pair is never cut)."""
    single_limit, part_limit = (160, 153) if encoding == "GSM-7" else (70, 67)
    if len(real_units(text, encoding)) <= single_limit:
        return [text]
    parts = [""]
    for char in text:
        if len(real_units(parts[-1] + char, encoding)) > part_limit:
            parts.append("")
        parts[-1] += char
    return parts


# --- the alphabet --------------------------------------------------------------------------------------------------


def test_basic_set_is_exactly_the_spec_table_without_escape() -> None:
    assert frozenset(SPEC_BASIC) - {"\x1b"} == GSM7_BASIC
    assert len(GSM7_BASIC) == 127


def test_extension_set_is_exactly_the_spec_table() -> None:
    assert frozenset(SPEC_EXTENSION) == GSM7_EXTENSION


@pytest.mark.parametrize("char", sorted(frozenset(SPEC_BASIC) - {"\x1b"}))
def test_every_basic_char_is_gsm7_and_one_septet(char: str) -> None:
    assert analyse(char) == SmsEncoding("GSM-7", 1, 1)


@pytest.mark.parametrize("char", sorted(SPEC_EXTENSION))
def test_every_extension_char_is_gsm7_and_two_septets(char: str) -> None:
    assert analyse(char) == SmsEncoding("GSM-7", 1, 2)
    assert analyse(f"a{char}b") == SmsEncoding("GSM-7", 1, 4)


@pytest.mark.parametrize(
    "char",
    ["\x1b", "\t", "`", "ç", "È", "ą", "ł", "Ł", "α", "ω", "Α", "\u00a0", "„", "–", "…", "я", "中", EMOJI, "\u200b"],
)
def test_chars_outside_gsm7_switch_to_ucs2(char: str) -> None:
    assert not is_gsm7(char)
    assert not is_gsm7(f"Hello {char} world")
    assert analyse(f"Hello {char}").encoding == "UCS-2"


def test_greek_capitals_of_the_basic_set_are_gsm7() -> None:
    assert is_gsm7("ΔΦΓΛΩΠΨΣΘΞ")
    assert analyse("ΔΦΓΛΩΠΨΣΘΞ") == SmsEncoding("GSM-7", 1, 10)


def test_empty_text_is_one_empty_gsm7_part() -> None:
    assert analyse("") == SmsEncoding("GSM-7", 1, 0)


def test_crlf_counts_two_septets() -> None:
    assert analyse("a\r\nb") == SmsEncoding("GSM-7", 1, 4)


# --- GSM-7 part limits ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "parts"), [(1, 1), (159, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_part_count_by_length(length: int, parts: int) -> None:
    assert analyse("a" * length) == SmsEncoding("GSM-7", parts, length)


def test_extension_chars_decide_single_part_limit() -> None:
    assert analyse("€" * 80) == SmsEncoding("GSM-7", 1, 160)
    assert analyse("a" * 158 + "{") == SmsEncoding("GSM-7", 1, 160)
    assert analyse("a" * 159 + "{") == SmsEncoding("GSM-7", 2, 161)


@pytest.mark.parametrize("char", sorted(SPEC_EXTENSION))
def test_extension_char_ending_exactly_at_septet_153_stays_in_part_one(char: str) -> None:
    text = "a" * 151 + char + "b" * 153  # the pair occupies septets 152-153: 2 full parts
    assert analyse(text) == SmsEncoding("GSM-7", 2, 306)


@pytest.mark.parametrize("char", sorted(SPEC_EXTENSION))
def test_extension_char_at_septets_153_154_moves_whole_to_next_part(char: str) -> None:
    # 306 septets would fit 2 x 153, but the pair cannot straddle: part 1 has 152, part 3 one septet.
    text = "a" * 152 + char + "b" * 152
    assert analyse(text) == SmsEncoding("GSM-7", 3, 306)


def test_text_of_only_extension_chars_uses_152_septets_per_part() -> None:
    assert analyse("|" * 81) == SmsEncoding("GSM-7", 2, 162)
    # 306 septets would fit 2 x 153, but 153 is odd: every part takes 76 pairs, so 3 parts (76, 76, 1).
    assert analyse("|" * 153) == SmsEncoding("GSM-7", 3, 306)


# --- UCS-2 part limits ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "parts"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_part_count_by_length(length: int, parts: int) -> None:
    text = ("ą" * length)[:length]
    assert analyse(text) == SmsEncoding("UCS-2", parts, length)


def test_polish_sentence() -> None:
    text = "Przepraszamy, nie odebraliśmy połączenia na +48221234567. Oddzwonimy!!"
    assert len(text) == 70
    assert analyse(text) == SmsEncoding("UCS-2", 1, 70)
    assert analyse(text + "!") == SmsEncoding("UCS-2", 2, 71)


def test_one_polish_letter_switches_a_long_gsm_text_to_ucs2() -> None:
    assert analyse("a" * 100) == SmsEncoding("GSM-7", 1, 100)
    assert analyse("a" * 99 + "ł") == SmsEncoding("UCS-2", 2, 100)


def test_emoji_counts_two_units() -> None:
    assert analyse(EMOJI) == SmsEncoding("UCS-2", 1, 2)
    assert analyse(EMOJI * 35) == SmsEncoding("UCS-2", 1, 70)
    assert analyse(EMOJI * 36) == SmsEncoding("UCS-2", 2, 72)
    # 134 units would fit 2 x 67, but 67 is odd: every part takes 33 emoji, so 3 parts (33, 33, 1).
    assert analyse(EMOJI * 67) == SmsEncoding("UCS-2", 3, 134)


def test_emoji_ending_exactly_at_unit_67_stays_in_part_one() -> None:
    text = "ą" * 65 + EMOJI + "x" * 67  # the surrogate pair occupies units 66-67: 2 full parts
    assert analyse(text) == SmsEncoding("UCS-2", 2, 134)


def test_emoji_at_units_67_68_moves_whole_to_next_part() -> None:
    text = "ą" * 66 + EMOJI + "x" * 66  # 134 units would fit 2 x 67, but the pair cannot straddle
    assert analyse(text) == SmsEncoding("UCS-2", 3, 134)


# --- properties ----------------------------------------------------------------------------------------------------

# Weighted towards the interesting characters: basic set, extension table, Polish, emoji, anything.
interesting_chars = st.one_of(
    st.sampled_from(sorted(GSM7_BASIC)),
    st.sampled_from(sorted(GSM7_EXTENSION)),
    st.sampled_from(POLISH),
    st.sampled_from(["😀", "👍", "🇵", "𝄞"]),
    st.characters(codec="utf-8"),
)
gsm7_texts = st.text(st.one_of(st.sampled_from(sorted(GSM7_BASIC)), st.sampled_from(sorted(GSM7_EXTENSION))))
any_texts = st.one_of(gsm7_texts, st.text(interesting_chars, max_size=400))


@settings(max_examples=400)
@given(any_texts)
@example("a" * 152 + "€" * 5)
@example("ą" * 66 + EMOJI * 3)
def test_parts_are_the_greedy_split_a_phone_receives(text: str) -> None:
    info = analyse(text)
    assert info.encoding == ("GSM-7" if is_gsm7(text) else "UCS-2")
    assert info.units == len(real_units(text, info.encoding))
    assert info.parts == len(greedy_parts(text, info.encoding))


@given(any_texts)
def test_is_gsm7_matches_reference_table(text: str) -> None:
    reference = all(char in SPEC_EXTENSION or (char in SPEC_BASIC and char != "\x1b") for char in text)
    assert is_gsm7(text) is reference


# --- transliteration -----------------------------------------------------------------------------------------------


def test_polish_letters_become_gsm7() -> None:
    assert transliterate("Zażółć gęślą jaźń") == "Zazolc gesla jazn"
    assert transliterate("ZAŻÓŁĆ GĘŚLĄ JAŹŃ") == "ZAZOLC GESLA JAZN"
    assert transliterate("ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ") == "acelnoszz ACELNOSZZ"


def test_polish_sms_fits_one_gsm7_part_after_transliteration() -> None:
    text = "Przepraszamy, nie odebraliśmy połączenia na +48221234567. Oddzwonimy jutro, dziękujemy!"
    assert analyse(text) == SmsEncoding("UCS-2", 2, 87)
    assert analyse(transliterate(text)) == SmsEncoding("GSM-7", 1, 87)


def test_characters_gsm7_has_stay() -> None:
    text = "Café Müller, Äpfel, Niño, Straße, £5, €10, Ørsted, Ærø, Ça va, {x} [y] ~ | ^ \\ ΔΩ"
    assert is_gsm7(text)
    assert transliterate(text) == text


def test_only_missing_characters_change_in_mixed_text() -> None:
    assert transliterate("Łódź: café, crème, Öl, Ñandú") == "Lodz: café, crème, Öl, Ñandu"


def test_typographic_punctuation_becomes_ascii() -> None:
    text = "„Dzień dobry” – ‘quoted’ — «guillemets»…\u00a010\u202fzł\u2009ok\tend"
    assert transliterate(text) == '"Dzien dobry" - \'quoted\' - "guillemets"... 10 zl ok end'


def test_other_latin_diacritics() -> None:
    assert transliterate("Čeština Škoda Dvořák Đorđe Þór İstanbul façade Ångström È ǅ ﬁ ŉ ½") == (
        "Cestina Skoda Dvorak Dorde Thor Istanbul facade Ångström E Dz fi 'n 1/2"
    )


def test_invisible_characters_go_but_emoji_joiners_stay() -> None:
    assert transliterate("co\u00adoperate\u200b!") == "cooperate!"
    family = "👨\u200d👩\u200d👧"
    assert transliterate(f"Dziękujemy {family}") == f"Dziekujemy {family}"


def test_emoji_and_scripts_without_latin_spelling_stay_so_text_stays_ucs2() -> None:
    text = "Dziękujemy 😀 Спасибо 谢谢"
    result = transliterate(text)
    assert result == "Dziekujemy 😀 Спасибо 谢谢"
    assert analyse(result).encoding == "UCS-2"


def test_decomposed_text_is_composed_first() -> None:
    decomposed = unicodedata.normalize("NFD", "Zażółć gęślą jaźń, café, Ärger")
    assert decomposed != "Zażółć gęślą jaźń, café, Ärger"
    assert transliterate(decomposed) == "Zazolc gesla jazn, café, Ärger"


def test_accents_without_a_precomposed_letter_are_dropped() -> None:
    assert transliterate("q\u0303 x\u0301\u0328") == "q x"


def test_bare_accents_do_not_become_spaces() -> None:
    assert transliterate("¨¸") == "¨¸"


# Cased Latin letters (Unicode 14, Python 3.11) that spell no Latin base letter: tone letters, glottal stops,
# clicks, Egyptological signs, tresillo/cuatrillo. They have no sensible GSM-7 spelling and stay.
LATIN_WITHOUT_BASE = frozenset("ƄƅƧƨƪƼƽƾɁɂɤʕʖʘʡʢʬʭᴞᴤⱷꜢꜣꜤꜥꜪꜫꜬꜭꜮꜯꭠ\U0001df0e")
CASED_LATIN_LETTERS = sorted(
    char
    for char in map(chr, range(sys.maxunicode + 1))
    if unicodedata.category(char) in ("Lu", "Ll", "Lt") and unicodedata.name(char, "").startswith("LATIN ")
)
SPELLABLE_LATIN_LETTERS = [char for char in CASED_LATIN_LETTERS if char not in LATIN_WITHOUT_BASE]


def test_every_cased_latin_letter_with_a_base_letter_becomes_gsm7() -> None:
    assert len(SPELLABLE_LATIN_LETTERS) > 1000
    not_gsm7 = {char: transliterate(char) for char in SPELLABLE_LATIN_LETTERS if not is_gsm7(transliterate(char))}
    assert not_gsm7 == {}


def test_latin_letters_without_a_base_letter_stay() -> None:
    assert {char: transliterate(char) for char in LATIN_WITHOUT_BASE} == {char: char for char in LATIN_WITHOUT_BASE}


def test_transliteration_keeps_case() -> None:
    for char in SPELLABLE_LATIN_LETTERS:
        result = transliterate(char)
        if char in GSM7_BASIC or len(result) != 1 or not result.isalpha():
            continue
        category = unicodedata.category(char)
        assert (category == "Lu") == result.isupper(), (char, unicodedata.name(char), result)


@settings(max_examples=300)
@given(
    st.text(st.one_of(st.sampled_from(SPELLABLE_LATIN_LETTERS), st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))))
)
def test_latin_and_gsm7_text_always_becomes_gsm7(text: str) -> None:
    assert is_gsm7(transliterate(text))


@given(st.text(interesting_chars, max_size=200))
def test_transliteration_is_per_character_after_nfc_idempotent_and_keeps_gsm7_chars(text: str) -> None:
    result = transliterate(text)
    assert result == "".join(transliterate(char) for char in unicodedata.normalize("NFC", text))
    assert transliterate(result) == result
    for char in text:
        if is_gsm7(char):
            assert transliterate(char) == char


@given(gsm7_texts)
def test_gsm7_text_is_returned_unchanged(text: str) -> None:
    assert transliterate(text) is text
