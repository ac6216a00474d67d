"""The account page over the real app: the service switch, the settings, numbers, senders and opt-outs;
who may change what, nothing saved half-way, the audit's actor, and the HTML error pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from panel_world import browser, csrf_of, logged_in, login_form, polish_reader, seed_rules
from web_world import PASSWORD, WebWorld, web_world

from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.numbers import list_numbers, list_senders
from pbx_sms.storage.optouts import add_optout, list_optouts

PAGE = "/accounts/acme/settings"
GLOBEX_PAGE = "/accounts/globex/settings"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    for world in web_world(database_url):
        seed_rules(world.database)
        with world.database.write_session() as session:
            add_optout(session, "+48600111222", None, "PL")  # a global opt-out
            add_optout(session, "+48600333444", "acme", "PL")
        yield world


def account_state(web: WebWorld, name: str = "acme") -> dict[str, Any]:
    with web.database.session() as session:
        account = get_account(session, name)
        return {
            "sms_enabled": account.sms_enabled,
            "daily_cap": account.daily_cap,
            "quiet_hours": account.quiet_hours,
            "timezone": account.timezone,
            "country": account.country,
        }


def numbers_of(web: WebWorld, name: str = "acme") -> list[str]:
    with web.database.session() as session:
        return [e164 for e164, _owner in list_numbers(session, name)]


def senders_of(web: WebWorld, name: str = "acme") -> list[str]:
    with web.database.session() as session:
        return [sender for sender, _owner in list_senders(session, name)]


def optouts_of(web: WebWorld, name: str = "acme") -> list[tuple[str, bool]]:
    with web.database.session() as session:
        return [(e164, owner is None) for e164, owner in list_optouts(session, name)]


def audit(web: WebWorld, entity: str) -> list[dict[str, Any]]:
    answer = web.as_("root").get("/api/v1/audit", params={"account": "acme", "entity": entity})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["entries"]
    return found


def version_of_page(client: TestClient) -> str:
    html = client.get(PAGE).text
    start = html.index('name="version" value="') + len('name="version" value="')
    return html[start : html.index('"', start)].replace("&#34;", '"')


def settings_form(client: TestClient, csrf: str, **values: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "version": version_of_page(client),
        "daily_cap": "200",
        "quiet_hours": "",
        "timezone": "Europe/Warsaw",
        "country": "PL",
    }
    return form | values


def is_html(answer: Any) -> bool:
    return str(answer.headers["content-type"]).startswith("text/html")


# --- the service switch -------------------------------------------------------------------------------


def test_an_operator_switches_the_service_and_the_audit_names_them(web: WebWorld) -> None:
    client, csrf = logged_in(web, "root")
    off = client.post(f"{PAGE}/service", data={"csrf_token": csrf, "enabled": "false"}, follow_redirects=False)
    assert (off.status_code, off.headers["location"]) == (303, PAGE)
    assert account_state(web)["sms_enabled"] is False
    page = client.get(PAGE).text
    assert 'class="service off"' in page and "SMS service is off: click to switch it on" in page
    client.post(f"{PAGE}/service", data={"csrf_token": csrf, "enabled": "true"})
    client.post(f"{PAGE}/service", data={"csrf_token": csrf, "enabled": "true"})  # a double click: still on
    assert account_state(web)["sms_enabled"] is True
    assert 'class="service on"' in client.get(PAGE).text
    switches = [(entry["actor"], entry["action"]) for entry in audit(web, "account")][:2]
    assert switches == [("web:root", "enable"), ("web:root", "disable")]  # newest first; the double click: no entry


def test_the_sender_ids_say_that_replies_need_a_number(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    client.post("/language", data={"csrf_token": _csrf, "language": "pl"})
    assert "wymagają nadawcy dwukierunkowego: numeru telefonu" in client.get(PAGE).text


def test_an_admin_sees_the_service_but_may_not_switch_it(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    page = client.get(PAGE).text
    assert "SMS service is on" in page and f'action="{PAGE}/service"' not in page
    refused = client.post(f"{PAGE}/service", data={"csrf_token": csrf, "enabled": "false"})
    assert refused.status_code == 403 and is_html(refused) and "Not allowed" in refused.text
    assert account_state(web)["sms_enabled"] is True


def test_the_switch_wants_true_or_false(web: WebWorld) -> None:
    client, csrf = logged_in(web, "root")
    answer = client.post(f"{PAGE}/service", data={"csrf_token": csrf, "enabled": "maybe"})
    assert answer.status_code == 422 and "enabled: expected true or false" in answer.text
    assert account_state(web)["sms_enabled"] is True


# --- settings -----------------------------------------------------------------------------------------


def test_an_admin_saves_the_settings_and_empty_means_none(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    form = settings_form(client, csrf, daily_cap="50", quiet_hours="21:00-8:00", timezone="Europe/London", country="gb")
    saved = client.post(PAGE, data=form, follow_redirects=False)
    assert (saved.status_code, saved.headers["location"]) == (303, PAGE)
    assert account_state(web) == {
        "sms_enabled": True,
        "daily_cap": 50,
        "quiet_hours": "21:00-08:00",
        "timezone": "Europe/London",
        "country": "GB",
    }
    page = client.get(PAGE).text
    assert 'value="50"' in page and 'value="21:00-08:00"' in page
    client.post(PAGE, data=settings_form(client, csrf, daily_cap="", quiet_hours="", timezone="Europe/London"))
    assert (account_state(web)["daily_cap"], account_state(web)["quiet_hours"]) == (None, None)
    assert {entry["actor"] for entry in audit(web, "account") if entry["action"] == "update"} == {"web:acme-admin"}


def test_mistakes_are_shown_at_their_fields_and_nothing_is_saved(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    before = account_state(web)
    form = settings_form(client, csrf, daily_cap="lots", quiet_hours="21-8", timezone="Mars/Base", country="DE")
    answer = client.post(PAGE, data=form)
    assert answer.status_code == 422 and is_html(answer)
    html = answer.text
    for field in ("daily_cap", "quiet_hours", "timezone"):
        assert f'id="error-{field}"' in html and f'aria-describedby="error-{field}"' in html
    assert "Enter a whole number of SMS a day" in html
    assert 'value="lots"' in html and 'value="Mars/Base"' in html  # what was typed, to correct it
    assert 'id="error-country"' not in html
    assert account_state(web) == before  # the valid country was not saved either


def test_a_wrong_cap_alone_saves_nothing_of_the_valid_fields(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    answer = client.post(PAGE, data=settings_form(client, csrf, daily_cap="-5", quiet_hours="22:00-07:00"))
    assert answer.status_code == 422 and 'id="error-daily_cap"' in answer.text
    assert account_state(web)["quiet_hours"] is None


def test_a_page_changed_by_someone_else_meanwhile_is_not_overwritten(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    form = settings_form(client, csrf, daily_cap="10")
    patch = web.as_("root").get("/api/v1/accounts/acme")
    changed = web.as_("root").patch(
        "/api/v1/accounts/acme", json={"daily_cap": 77}, headers={"If-Match": patch.headers["etag"]}
    )
    assert changed.status_code == 200
    stale = client.post(PAGE, data=form)
    assert stale.status_code == 409 and "Someone changed these settings" in stale.text
    assert 'value="77"' in stale.text
    assert account_state(web)["daily_cap"] == 77
    assert client.post(PAGE, data=settings_form(client, csrf, daily_cap="10")).status_code == 200  # redone: saved
    assert account_state(web)["daily_cap"] == 10


def test_the_page_and_the_api_share_one_version(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    assert version_of_page(client) == web.as_("acme-admin").get("/api/v1/accounts/acme").headers["etag"]


# --- numbers, senders, opt-outs -----------------------------------------------------------------------


def test_numbers_are_added_and_removed_with_errors_at_the_field(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    added = client.post(f"{PAGE}/numbers", data={"csrf_token": csrf, "number": "22 765 43 21"}, follow_redirects=False)
    assert added.status_code == 303 and "+48227654321" in numbers_of(web)
    assert "+48227654321" in client.get(PAGE).text
    wrong = client.post(f"{PAGE}/numbers", data={"csrf_token": csrf, "number": "12"})
    assert wrong.status_code == 422 and 'id="error-number"' in wrong.text and 'value="12"' in wrong.text
    twice = client.post(f"{PAGE}/numbers", data={"csrf_token": csrf, "number": "+48227654321"})
    assert twice.status_code == 409 and "already belongs to account" in twice.text
    removed = client.post(f"{PAGE}/numbers/%2B48227654321/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert removed.status_code == 303 and "+48227654321" not in numbers_of(web)
    assert [entry["actor"] for entry in audit(web, "number")][:2] == ["web:acme-admin", "web:acme-admin"]


def test_a_number_an_enabled_rule_uses_is_kept_and_why_is_said(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    client.post(
        "/accounts/acme/rules/After%20hours%20%2F%20weekend/enabled", data={"csrf_token": csrf, "enabled": "true"}
    )
    refused = client.post(f"{PAGE}/numbers/%2B48221234567/delete", data={"csrf_token": csrf})
    assert refused.status_code == 409 and 'id="error-numbers"' in refused.text
    assert "After hours / weekend" in refused.text and "+48221234567" in numbers_of(web)


def test_senders_are_added_and_removed(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    assert client.post(f"{PAGE}/senders", data={"csrf_token": csrf, "sender": "ACME Shop"}).status_code == 200
    assert "ACME Shop" in senders_of(web)
    wrong = client.post(f"{PAGE}/senders", data={"csrf_token": csrf, "sender": "Far too long a name"})
    assert wrong.status_code == 422 and 'id="error-sender"' in wrong.text
    client.post(f"{PAGE}/senders/ACME%20Shop/delete", data={"csrf_token": csrf})
    assert senders_of(web) == ["ACME"]
    used = client.post(f"{PAGE}/senders/ACME/delete", data={"csrf_token": csrf})
    assert used.status_code == 409 and 'id="error-senders"' in used.text and senders_of(web) == ["ACME"]


def test_optouts_are_added_and_removed_and_global_ones_are_read_only(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    page = client.get(PAGE).text
    assert "+48600111222" in page and "%2B48600111222/delete" not in page
    assert client.post(f"{PAGE}/optouts", data={"csrf_token": csrf, "optout": "600 555 666"}).status_code == 200
    assert ("+48600555666", False) in optouts_of(web)
    wrong = client.post(f"{PAGE}/optouts", data={"csrf_token": csrf, "optout": "nope"})
    assert wrong.status_code == 422 and 'id="error-optout"' in wrong.text
    client.post(f"{PAGE}/optouts/%2B48600555666/delete", data={"csrf_token": csrf})
    assert ("+48600555666", False) not in optouts_of(web)
    as_own = client.post(f"{PAGE}/optouts/%2B48600111222/delete", data={"csrf_token": csrf})
    assert as_own.status_code == 404 and is_html(as_own)  # a global opt-out is not the account's
    assert ("+48600111222", True) in optouts_of(web)
    operator, _operator_csrf = logged_in(web, "root")
    assert "%2B48600111222/delete" not in operator.get(PAGE).text  # read-only here for everyone


# --- access -------------------------------------------------------------------------------------------


def test_a_viewer_sees_everything_but_gets_no_forms_and_changes_nothing(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-viewer")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "+48221234567" in page.text and "ACME" in page.text and "+48600333444" in page.text
    assert 'name="version"' not in page.text and f'action="{PAGE}/numbers"' not in page.text
    assert "/delete" not in page.text and "readonly" in page.text
    before = (account_state(web), numbers_of(web), senders_of(web), optouts_of(web))
    for path, data in (
        (PAGE, {"daily_cap": "1"}),
        (f"{PAGE}/service", {"enabled": "false"}),
        (f"{PAGE}/numbers", {"number": "+48227654321"}),
        (f"{PAGE}/numbers/%2B48221234567/delete", {}),
        (f"{PAGE}/senders", {"sender": "NEW"}),
        (f"{PAGE}/optouts", {"optout": "+48600999888"}),
        (f"{PAGE}/optouts/%2B48600333444/delete", {}),
    ):
        answer = client.post(path, data={"csrf_token": csrf, **data})
        assert answer.status_code == 403 and is_html(answer), path
    assert (account_state(web), numbers_of(web), senders_of(web), optouts_of(web)) == before


def test_another_accounts_admin_gets_the_html_not_found_page(web: WebWorld) -> None:
    client, csrf = logged_in(web, "globex-admin")
    for answer in (
        client.get(PAGE, headers={"Accept-Language": "pl"}),
        client.post(f"{PAGE}/numbers", data={"csrf_token": csrf, "number": "+48227654321"}),
        client.post(f"{PAGE}/numbers/%2B48221234567/delete", data={"csrf_token": csrf}),
    ):
        assert answer.status_code == 404 and is_html(answer)
        assert "+48221234567" not in answer.text
    polish_reader(web.database, "globex-admin")  # a logged-in reader's page is in their language, as every page
    assert "Nie znaleziono" in client.get(PAGE).text
    assert "+48227654321" not in numbers_of(web) and "+48221234567" in numbers_of(web)
    assert client.get(GLOBEX_PAGE).status_code == 200


def test_the_not_found_page_keeps_the_readers_own_menu_and_never_names_the_other_account(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "globex-admin")
    answer = client.get(PAGE)
    assert answer.status_code == 404
    assert 'class="user"' in answer.text and "globex-admin" in answer.text
    assert 'href="/accounts/globex/rules"' in answer.text and "Log out" in answer.text
    assert "/accounts/acme" not in answer.text and ">acme<" not in answer.text
    anonymous = browser(web).get(PAGE)  # nobody logged in: no menu, the page asks to log in
    assert 'class="menu"' not in anonymous.text


def test_the_menu_links_the_account_page(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    assert f'href="{PAGE}"' in client.get("/accounts/acme/rules").text


# --- error pages and CSRF -----------------------------------------------------------------------------


def test_a_form_without_its_csrf_token_gets_the_expired_form_page(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    answer = client.post(f"{PAGE}/numbers", data={"number": "+48227654321"})
    assert answer.status_code == 403 and is_html(answer) and "The form has expired" in answer.text
    assert "+48227654321" not in numbers_of(web)


def test_pages_get_html_errors_and_the_api_keeps_json(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    missing = client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and is_html(missing) and "Not found" in missing.text
    api = client.get("/api/v1/accounts/globex")
    assert api.status_code == 404 and api.json()["detail"]
    assert web.as_("acme-admin").get("/api/v1/no-such").json() == {"detail": "Not Found"}


def test_a_post_to_a_page_after_the_session_ended_asks_to_log_in(web: WebWorld) -> None:
    answer = browser(web).post(f"{PAGE}/numbers", data={"number": "+48227654321"})
    assert answer.status_code == 401 and is_html(answer) and "Please log in" in answer.text
    assert "www-authenticate" not in answer.headers


# --- login CSRF ---------------------------------------------------------------------------------------


def test_a_login_post_without_the_forms_token_logs_nobody_in(web: WebWorld) -> None:
    client = browser(web)
    bare = client.post("/login", data={"user": "acme-admin", "password": PASSWORD}, follow_redirects=False)
    assert bare.status_code == 403 and "pbx_sms_session" not in bare.cookies
    assert "The login form has expired" in bare.text
    forged = client.post(
        "/login", data={"user": "acme-admin", "password": PASSWORD, "csrf_token": "a" * 64}, follow_redirects=False
    )
    assert forged.status_code == 403 and "pbx_sms_session" not in client.cookies
    fresh = client.post("/login", data=login_form(client, "acme-admin", PASSWORD), follow_redirects=False)
    assert fresh.status_code == 303 and "pbx_sms_session" in client.cookies
    assert client.get(PAGE).status_code == 200


def test_the_login_token_is_in_the_form_and_in_an_http_only_cookie(web: WebWorld) -> None:
    client = browser(web)
    answer = client.get("/login")
    cookie = answer.headers["set-cookie"]
    assert "pbx_sms_login_csrf=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert csrf_of(answer.text) == client.cookies["pbx_sms_login_csrf"]
    assert csrf_of(client.get("/login").text) == csrf_of(answer.text)  # a second tab: the same token


# --- problems in the reader's language ----------------------------------------------------------------


def field_errors(html: str, field: str) -> str:
    found = re.search(rf'<ul class="field-error" id="error-{field}">(.*?)</ul>', html, re.DOTALL)
    assert found is not None, f"no error at {field}"
    return found.group(1)


def test_wrong_settings_are_said_in_polish_at_their_fields(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    polish_reader(web.database)
    form = settings_form(client, csrf, quiet_hours="21-8", timezone="Mars/Base", country="XYZ")
    answer = client.post(PAGE, data=form)
    assert answer.status_code == 422
    assert "godziny ciszy &#39;21-8&#39;: oczekiwano" in field_errors(answer.text, "quiet_hours")
    assert "nieznana strefa czasowa &#39;Mars/Base&#39;" in field_errors(answer.text, "timezone")
    assert "kraj &#39;XYZ&#39;: oczekiwano dwuliterowego kodu kraju" in field_errors(answer.text, "country")
    cap = client.post(PAGE, data=settings_form(client, csrf, daily_cap="-5"))
    assert "dzienny limit -5: oczekiwano od 0 do" in field_errors(cap.text, "daily_cap")


def test_an_english_reader_gets_the_same_problems_in_english(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    client.headers.update({"Accept-Language": "en"})
    answer = client.post(PAGE, data=settings_form(client, csrf, timezone="Mars/Base"))
    assert "unknown time zone &#39;Mars/Base&#39; (expected an IANA name" in field_errors(answer.text, "timezone")


def test_numbers_senders_and_optouts_refusals_are_polish(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    polish_reader(web.database)
    wrong = client.post(f"{PAGE}/numbers", data={"csrf_token": csrf, "number": "12"})
    assert "numer &#39;12&#39;: nie jest poprawnym numerem telefonu" in field_errors(wrong.text, "number")
    client.post(f"{PAGE}/numbers", data={"csrf_token": csrf, "number": "+48227654321"})
    twice = client.post(f"{PAGE}/numbers", data={"csrf_token": csrf, "number": "+48227654321"})
    assert "numer +48227654321 należy już do konta &#39;acme&#39;" in field_errors(twice.text, "number")
    sender = client.post(f"{PAGE}/senders", data={"csrf_token": csrf, "sender": "WAY TOO LONG ID"})
    assert "nadpis &#39;WAY TOO LONG ID&#39;: oczekiwano 1–11 znaków" in field_errors(sender.text, "sender")
