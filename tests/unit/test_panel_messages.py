"""The panel's translation of core/storage problems: each pattern in Polish with its values kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from pbx_sms.core.rulefile import RuleFileInvalid, parse_rule_text
from pbx_sms.web.pages.i18n import LANGUAGES, po_path
from pbx_sms.web.pages.messages import DESCRIBED, PATTERNS, translated_problem
from pbx_sms.web.pages.render import translator

WEB = Path(__file__).resolve().parents[2] / "pbx_sms" / "web"
PL = translator("pl")
EN = translator("en")

# Real messages (collected from the rule file, template and storage checks) → their Polish, values kept.
CASES = [
    ("missing required key", "brak wymaganego klucza"),
    (
        "unknown key (did you mean 'when'?); allowed here: name, enabled, when, then",
        "nieznany klucz (czy chodziło o 'when'?); dozwolone tutaj: name, enabled, when, then",
    ),
    ("expected a mapping (key: value), got nothing (null)", "oczekiwano mapowania (klucz: wartość), podano nic (null)"),
    ("expected a list, got a mapping", "oczekiwano listy, podano mapowanie"),
    ("expected 'in', 'out' or 'any', got 'inn'", "oczekiwano 'in', 'out' lub 'any', podano 'inn'"),
    ("expected a valid boolean, got 'yes'", "oczekiwano wartości logicznej (true/false), podano 'yes'"),
    ("expected less than or equal to 2147483647, got 2147483648", "oczekiwano najwyżej 2147483647, podano 2147483648"),
    (
        "expected a phone number in E.164 form (+ country code and number, no spaces), got '12'",
        "oczekiwano numeru telefonu w formacie E.164 (+ kod kraju i numer, bez spacji), podano '12'",
    ),
    (
        "column 4: unknown placeholder {nmber}; allowed: {number}, {rule}; did you mean {number}?",
        "kolumna 4: nieznane pole {nmber}; dozwolone: {number}, {rule}; czy chodziło o {number}?",
    ),
    (
        "column 1: '{' is never closed; write {{ for a literal '{'; line 2, column 3: unknown placeholder {x};"
        " allowed: {number}",
        "kolumna 1: '{' nie jest zamknięty; napisz {{, by uzyskać znak '{'; wiersz 2, kolumna 3: nieznane pole"
        " {x}; dozwolone: {number}",
    ),
    (
        "warning: the text takes 8 parts (GSM-7), more than 6: each part is billed as one SMS",
        "ostrzeżenie: tekst zajmuje 8 części (GSM-7), więcej niż 6: każda część jest liczona jako jeden SMS",
    ),
    (
        "sender 'ACME' is not a sender of account 'acme' (add it: pbx-sms senders add 'ACME' --account acme)",
        "nadpis 'ACME' nie jest nadpisem konta 'acme' (dodaj go: pbx-sms senders add 'ACME' --account acme)",
    ),
    (
        "number +48221234567 belongs to account 'other', not 'acme'",
        "numer +48221234567 należy do konta 'other', nie 'acme'",
    ),
    (
        "quiet hours '25:00-08:00': expected a time of day \"00:00\" .. \"23:59\", got '25:00'",
        "godziny ciszy '25:00-08:00': oczekiwano godziny z zakresu \"00:00\" .. \"23:59\", podano '25:00'",
    ),
    (
        "unknown time zone 'Mars/Base' (expected an IANA name like Europe/Warsaw)",
        "nieznana strefa czasowa 'Mars/Base' (oczekiwano nazwy IANA, np. Europe/Warsaw)",
    ),
    ("daily cap -1: expected 0 to 2147483647 (or none)", "dzienny limit -1: oczekiwano od 0 do 2147483647 (lub brak)"),
    (
        "number 'abc': not a valid phone number (read with default country PL)",
        "numer 'abc': nie jest poprawnym numerem telefonu (odczytany z domyślnym krajem PL)",
    ),
    ("+48600100100 is already opted out (globally)", "+48600100100 jest już wypisany (globalnie)"),
    ("from: expected a date like 2026-03-10, got 'x'", "od: oczekiwano daty, np. 2026-03-10, podano 'x'"),
]


@pytest.mark.parametrize(("english", "polish"), CASES)
def test_a_known_message_is_shown_in_polish_with_its_values(english: str, polish: str) -> None:
    assert translated_problem(english, PL) == polish


@pytest.mark.parametrize(("english", "_polish"), CASES)
def test_english_readers_see_the_message_unchanged(english: str, _polish: str) -> None:
    assert translated_problem(english, EN) == english


def test_an_unknown_message_passes_through_unchanged() -> None:
    message = "the gateway said no: 'E42'"
    assert translated_problem(message, PL) == message


def test_messages_of_a_real_rule_file_are_all_translated() -> None:
    text = "rules:\n  - name: r\n    when: {direction: inn, numbers: all, talk_s: {min: -1}}\n    then: {to: '12'}\n"
    with pytest.raises(RuleFileInvalid) as caught:
        parse_rule_text(text)
    for error in caught.value.errors:
        assert translated_problem(error.message, PL) != error.message, error.message


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_patterns_msgid_is_in_the_catalog(language: str) -> None:
    with (WEB / po_path(language)).open("rb") as stream:
        catalog = read_po(stream)
    translated = {message.id for message in catalog if message.id and message.string and not message.fuzzy}
    msgids = {pattern.msgid for pattern in PATTERNS} | set(DESCRIBED.values())
    assert sorted(msgids - translated) == []


def test_every_polish_translation_keeps_the_placeholders_of_its_msgid() -> None:
    for pattern in PATTERNS:
        names = {group: "x" for group in pattern.regex.groupindex}
        PL(pattern.msgid) % names  # a KeyError/ValueError: the Polish text names a placeholder wrongly
        assert PL(pattern.msgid).count("%(") == pattern.msgid.count("%("), pattern.msgid
