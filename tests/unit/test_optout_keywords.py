"""Opt-out keywords: the whole reply, trimmed, case- and accent-insensitive, is one keyword."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_sms.config.models import ReplySettings
from pbx_sms.core.optout_keywords import DEFAULT_OPTOUT_KEYWORDS, folded, is_optout, keyword_set

DEFAULTS = keyword_set(DEFAULT_OPTOUT_KEYWORDS)


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop ", "\tSTOPALL\n", "unsubscribe", "Cancel", "end", "QUIT", "NIE", "nie"]
)
def test_default_keywords_in_any_case_and_padding(text: str) -> None:
    assert is_optout(text, DEFAULTS)


@pytest.mark.parametrize("text", ["REZYGNUJĘ", "rezygnuje", "Rezygnuję", "REZYGNUJE", "rezygnuje\u0328"])
def test_accents_do_not_matter(text: str) -> None:
    assert is_optout(text, DEFAULTS)


@pytest.mark.parametrize(
    "text", ["nie wiem, oddzwonię", "stop please", "STOP!", "ST OP", "", "   ", "nie.", "Proszę nie dzwonić"]
)
def test_a_keyword_inside_a_longer_text_opts_nobody_out(text: str) -> None:
    assert not is_optout(text, DEFAULTS)


def test_keywords_are_configurable() -> None:
    settings = ReplySettings.model_validate({"optout_keywords": "WYPISZ, koniec"})
    keywords = keyword_set(settings.optout_keywords)
    assert is_optout("wypisz", keywords)
    assert is_optout("KONIEC", keywords)
    assert not is_optout("STOP", keywords)


def test_an_empty_keyword_list_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="at least one keyword"):
        ReplySettings.model_validate({"optout_keywords": " , "})


_words = st.sampled_from(DEFAULT_OPTOUT_KEYWORDS)
_space = st.text(alphabet=" \t\n\r", max_size=4)


@given(_words, _space, _space, st.lists(st.booleans(), min_size=12, max_size=12))
def test_any_casing_and_padding_of_a_keyword_opts_out(word: str, before: str, after: str, upper: list[bool]) -> None:
    cased = "".join(char.upper() if up else char.lower() for char, up in zip(word, upper * 2, strict=False))
    assert is_optout(before + cased + after, DEFAULTS)


@given(_words)
def test_a_keyword_with_its_accents_stripped_or_decomposed_opts_out(word: str) -> None:
    stripped = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    assert is_optout(stripped, DEFAULTS)
    assert is_optout(unicodedata.normalize("NFD", word), DEFAULTS)


@given(_words, st.text(min_size=1).filter(lambda extra: folded(extra) != ""))
def test_a_keyword_with_more_text_after_a_space_opts_nobody_out(word: str, extra: str) -> None:
    assert not is_optout(f"{word} {extra}", DEFAULTS)


@given(st.text())
def test_folding_is_idempotent(text: str) -> None:
    assert folded(folded(text)) == folded(text)
