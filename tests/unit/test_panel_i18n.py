"""The panel's languages: which one a request gets, and catalogs that cover every string of the pages."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.web.pages.i18n import LANGUAGES, accepted_language, choose_language, po_path, translations
from pbx_sms.web.pages.render import environment, local_path, local_time_formatter, translator
from pbx_sms.web.pages.rule_cells import rule_cells

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "pbx_sms" / "web"


def extracted_strings() -> set[str]:
    """Every string the pages show, extracted by Babel with the project's own babel.cfg."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        found.update([message] if isinstance(message, str) else [part for part in message if part])
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_of_the_pages_has_a_translation(language: str) -> None:
    strings = extracted_strings()
    assert len(strings) > 30  # the extraction found the templates and pages at all
    with (WEB / po_path(language)).open("rb") as stream:
        catalog = read_po(stream)
    translated = {message.id for message in catalog if message.id and message.string and not message.fuzzy}
    assert sorted(strings - translated) == []


def test_the_polish_catalog_is_polish_and_formats_placeholders() -> None:
    _ = translator("pl")
    assert _("Log in") == "Zaloguj"
    assert _("talk at least %(seconds)d s") % {"seconds": 30} == "rozmowa co najmniej 30 s"
    assert translations("en").gettext("Log in") == "Log in"


def test_a_template_renders_in_the_language_asked() -> None:
    page = environment("pl").from_string(
        '{{ _("Delete rule") }} {{ _("Delete the rule “%(name)s”? Its SMS still '
        'waiting to be sent are cancelled. This cannot be undone.", name=n) }}'
    )
    html = page.render(n="<b>")
    assert html.startswith("Usuń regułę Usunąć regułę „&lt;b&gt;”")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pl-PL,pl;q=0.9,en;q=0.8", "pl"),
        ("de-DE,de;q=0.9,en-GB;q=0.5", "en"),
        ("en;q=0.4, pl;q=0.7", "pl"),
        ("pl;q=0, en", "en"),
        ("de, fr", None),
        ("", None),
        (None, None),
        ("pl;q=nonsense, en;q=0.1", "en"),
    ],
)
def test_accept_language_names_pl_or_en_by_preference(header: str | None, expected: str | None) -> None:
    assert accepted_language(header) == expected


def test_the_language_is_the_users_then_the_browsers_then_the_accounts_country() -> None:
    assert choose_language("en", "pl", "PL") == "en"
    assert choose_language(None, "en-US", "PL") == "en"
    assert choose_language(None, "de", "PL") == "pl"
    assert choose_language(None, None, "DE") == "en"
    assert choose_language("xx", None, None) == "en"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/accounts/acme/rules", "/accounts/acme/rules"),
        ("/accounts/acme/rules?x=1", "/accounts/acme/rules?x=1"),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("accounts", None),
        ("/a\nb", None),
        ("", None),
        (None, None),
    ],
)
def test_next_is_followed_only_to_a_local_path(target: str | None, expected: str | None) -> None:
    assert local_path(target) == expected


def test_times_are_shown_in_the_accounts_time_zone() -> None:
    moment = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)  # already 1 February in Warsaw
    assert local_time_formatter("pl", "Europe/Warsaw")(moment) == "1.02.2025, 00:30"
    assert local_time_formatter("en", "America/New_York")(moment) == "1/31/25, 6:30\u202fPM"
    assert local_time_formatter("en", "UTC")(moment.replace(tzinfo=None)) == "1/31/25, 11:30\u202fPM"


RULE = parse_rule_text(
    """
rules:
  - name: r
    when:
      direction: in
      numbers: ["+48221234567"]
      status: [no_answer, busy]
      talk_s: {min: 5, max: 60}
      schedule:
        weekdays: [sat, sun]
        hours: [{from: "18:00", to: "08:00"}]
        dates: [{from: 2025-12-24, to: 2025-12-26}]
    then: {sender: ACME, to: [other_party], text: "x"}
"""
).rules[0]


def test_a_rule_in_short_in_polish() -> None:
    cells = rule_cells(RULE, "pl", translator("pl"))
    assert (cells.direction, cells.numbers, cells.statuses) == ("przychodzące", "+48221234567", "nieodebrane, zajęte")
    assert cells.schedule == (
        "rozmowa co najmniej 5 s",
        "rozmowa najwyżej 60 s",
        "sob., niedz.",
        "18:00–08:00",
        "24.12.2025–26.12.2025",
    )


def test_a_rule_in_short_in_english() -> None:
    cells = rule_cells(RULE, "en", translator("en"))
    assert cells.statuses == "no answer, busy"
    assert cells.schedule[2:] == ("Sat, Sun", "18:00–08:00", "12/24/25–12/26/25")
