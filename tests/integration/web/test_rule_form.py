"""The rule form: create and edit through the rule file's own validation, each problem at its field,
nothing saved on a mistake."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from backtest_seed import EXPECTED, RULE_DOCUMENT, seed_calls
from panel_world import logged_in, polish_reader, seed_rules
from web_world import WebWorld, web_world

from pbx_sms.storage.rule_store import get_stored_rule, rule_row, stored_rules

NEW = "/accounts/acme/rules/new"
MISSED_EDIT = "/accounts/acme/rules/Missed%20call/edit"
POLISH_TEXT = "Nie odebraliśmy połączenia, oddzwonimy wkrótce."


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    for world in web_world(database_url):
        seed_rules(world.database)
        yield world


def names(web: WebWorld) -> list[str]:
    with web.database.session() as session:
        return [stored.name for stored in stored_rules(session, "acme")]


def good_form(csrf: str, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {
        "csrf_token": csrf,
        "name": "Callback",
        "direction": "in",
        "numbers": ["+48221234567"],
        "status": ["no_answer", "busy"],
        "talk_max": "0",
        "weekdays": ["mon", "fri"],
        "hours": "18:00-08:00",
        "dates": "2025-12-24..2025-12-26",
        "sender": "ACME",
        "to_other_party": "1",
        "to_numbers": "+48600100200",
        "text": POLISH_TEXT,
        "delay_s": "60",
        "min_interval_s": "3600",
        "max_parts": "2",
    }
    form.update(changes)
    return form


def errors_at(html: str) -> dict[str, list[str]]:
    return {
        key: re.findall(r"<li>([^<]*)</li>", items)
        for key, items in re.findall(r'<ul class="field-error" id="error-([a-z_]+)">(.*?)</ul>', html)
    }


def test_the_form_has_a_label_for_every_input(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    html = client.get(NEW).text
    for field_id in ("name", "hours", "dates", "sender", "to_numbers", "text", "delay_s", "min_interval_s"):
        assert f'<label for="{field_id}">' in html and f'id="{field_id}"' in html
    assert "If the call meets these conditions" in html and "Then do this" in html
    assert "<option>ACME</option>" in html and "+48221234567" in html


def test_a_new_rule_is_saved_as_a_rule_file_would_store_it(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    saved = client.post(NEW, data=good_form(csrf), follow_redirects=False)
    assert (saved.status_code, saved.headers["location"]) == (303, "/accounts/acme/rules")
    with web.database.session() as session:
        stored = get_stored_rule(session, "acme", "Callback")
    assert stored.enabled and stored.rule is not None
    rule = stored.rule
    assert rule.when.numbers == ["+48221234567"] and rule.when.status == ["no_answer", "busy"]
    assert rule.when.talk_s is not None and rule.when.talk_s.max == 0
    assert rule.when.schedule is not None and rule.when.schedule.weekdays == ["mon", "fri"]
    assert [(window.from_, window.to) for window in rule.when.schedule.hours or []] == [("18:00", "08:00")]
    assert rule.then.to == ["other_party", "+48600100200"] and rule.then.text == POLISH_TEXT
    assert (rule.then.delay_s, rule.then.min_interval_s, rule.then.max_parts) == (60, 3600, 2)


def test_mistakes_are_shown_at_their_fields_and_nothing_is_saved(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    before = names(web)
    answer = client.post(
        NEW, data=good_form(csrf, status=[], talk_min="90", talk_max="30", hours="25:00-26:00", delay_s="soon")
    )
    assert answer.status_code == 422
    errors = errors_at(answer.text)
    assert set(errors) == {"status", "talk", "hours", "delay_s"}
    assert "min (90) must not exceed max (30)" in errors["talk"][0]
    assert "&#39;soon&#39;" in errors["delay_s"][0]
    assert 'id="hours" name="hours" value="25:00-26:00"' in answer.text  # the form comes back as sent
    assert names(web) == before


def test_the_accounts_senders_and_numbers_are_checked_once_the_rule_is_valid(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    answer = client.post(NEW, data=good_form(csrf, sender="GLOBEX", numbers=["+48229999999"]))
    assert answer.status_code == 422
    errors = errors_at(answer.text)
    assert set(errors) == {"sender", "numbers"}
    assert "GLOBEX" in errors["sender"][0] and "acme" in errors["sender"][0]
    assert "+48229999999" in errors["numbers"][0]
    assert "Callback" not in names(web)


def test_an_existing_name_is_refused_at_the_name(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    answer = client.post(NEW, data=good_form(csrf, name="Thanks"))
    assert answer.status_code == 422
    assert errors_at(answer.text) == {"name": ["the account already has a rule with this name"]}


def test_editing_keeps_the_state_and_may_rename(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    form = client.get(MISSED_EDIT).text
    assert 'value="Missed call"' in form and "Sorry we missed your call." in form
    client.post("/accounts/acme/rules/Missed%20call/enabled", data={"csrf_token": csrf, "enabled": "false"})
    saved = client.post(MISSED_EDIT, data=good_form(csrf, name="Missed call, again"), follow_redirects=False)
    assert saved.status_code == 303
    assert names(web) == ["After hours / weekend", "Missed call, again", "Thanks"]
    with web.database.session() as session:
        renamed = get_stored_rule(session, "acme", "Missed call, again")
    assert renamed.enabled is False and renamed.rule is not None and renamed.rule.then.text == POLISH_TEXT


def test_the_form_in_polish(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    client.post("/language", data={"csrf_token": csrf, "language": "pl"})
    html = client.get(NEW).text
    assert "Jeśli połączenie spełnia te warunki" in html and "poniedziałek" in html
    answer = client.post(NEW, data=good_form(csrf, delay_s="x"))
    assert errors_at(answer.text)["delay_s"] == ["oczekiwano liczby całkowitej, podano &#39;x&#39;"]


def test_other_accounts_and_viewers_cannot_use_the_form(web: WebWorld) -> None:
    other, csrf = logged_in(web, "globex-admin")
    assert other.get(NEW).status_code == 404
    assert other.post(NEW, data=good_form(csrf)).status_code == 404
    viewer, csrf = logged_in(web, "acme-viewer")
    assert viewer.get(MISSED_EDIT).status_code == 403
    assert viewer.post(NEW, data=good_form(csrf)).status_code == 403
    assert "Callback" not in names(web)


def rule_id(web: WebWorld, name: str) -> int:
    with web.database.session() as session:
        return rule_row(session, "acme", name).id


def test_a_rename_keeps_the_rule_row_and_its_history(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    before = rule_id(web, "Missed call")
    saved = client.post(MISSED_EDIT, data=good_form(csrf, name="Missed call, renamed"), follow_redirects=False)
    assert saved.status_code == 303
    assert rule_id(web, "Missed call, renamed") == before


def test_the_counter_is_rendered_for_the_saved_text_and_counted_on_request(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    html = client.get(MISSED_EDIT).text  # "Sorry we missed your call. We will call back.": 45 GSM-7 characters
    assert re.search(r'data-counter="encoding">GSM-7<', html) and re.search(r'data-counter="characters">45<', html)
    assert re.search(r'data-counter="left">115<', html)
    counted = client.post(NEW, data=good_form(csrf, intent="count", text="Zażółć gęślą jaźń " * 4))
    assert counted.status_code == 200
    figures = dict(re.findall(r'data-counter="([a-z0-9-]+)">([^<]*)<', counted.text))
    assert (figures["encoding"], figures["characters"], figures["parts"]) == ("UCS-2", "72", "2")
    assert figures["ucs2"] == "ż ó ł ć ę ś ą ź ń"
    assert (figures["transliterated-encoding"], figures["transliterated-parts"]) == ("GSM-7", "1")
    assert (
        "Za<mark>żółć</mark> g<mark>ęś</mark>l<mark>ą</mark>" in counted.text
    )  # the characters that force UCS-2, marked where they are
    assert "Callback" not in names(web)  # counting saves nothing


def test_the_backtest_button_replays_the_rule_as_typed_and_saves_nothing(web: WebWorld) -> None:
    seed_calls(web.database, datetime.now(UTC))
    client, csrf = logged_in(web, "acme-admin")
    then = RULE_DOCUMENT["then"]
    form = good_form(
        csrf,
        intent="backtest",
        name="missed",
        numbers_all="1",
        numbers=[],
        status=["no_answer"],
        talk_max="",
        weekdays=[],
        hours="",
        dates="",
        to_numbers="",
        text=then["text"],
        delay_s=str(then["delay_s"]),
        min_interval_s=str(then["min_interval_s"]),
        max_parts="",
    )
    answer = client.post(NEW, data=form)
    assert answer.status_code == 200, answer.text
    api = web.as_("acme-admin").post(
        "/api/v1/accounts/acme/rules/backtest", json={"document": {**RULE_DOCUMENT, "name": "missed"}, "days": 30}
    )
    expected = api.json()
    assert expected["sent"] >= EXPECTED["sent"]  # the 30 days hold the 7 days' calls at least
    summary = f"{expected['calls']} calls, {expected['matched_calls']} matched, {expected['sent']} SMS to "
    assert summary in answer.text
    assert f"the number opted out: {expected['suppressed']['opted_out']}" in answer.text
    assert "missed" not in names(web)


def test_a_backtest_of_a_rule_with_a_mistake_shows_the_mistake(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    answer = client.post(NEW, data=good_form(csrf, intent="backtest", status=[]))
    assert answer.status_code == 422
    assert set(errors_at(answer.text)) == {"status"}
    assert "Backtest: what this rule would have sent" not in answer.text


def test_the_rule_checks_and_the_counter_speak_polish(web: WebWorld) -> None:
    polish_reader(web.database)
    client, csrf = logged_in(web, "acme-admin")
    answer = client.post(NEW, data=good_form(csrf, text="Oddzwonimy {nmber}"))
    assert answer.status_code == 422
    assert "czy chodziło o {number}?" in errors_at(answer.text)["text"][0]
    counter = answer.text[answer.text.index('id="counter"') :]
    assert "czy chodziło o {number}?" in counter
    foreign = errors_at(client.post(NEW, data=good_form(csrf, sender="GLOBEX")).text)  # the account's check
    assert "GLOBEX" in foreign["sender"][0] and " sender " not in foreign["sender"][0]
