"""The panel's pages over the real app: login and logout, the rules page, its toggle and delete forms."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from panel_world import browser, csrf_of, logged_in, login_form, seed_rules
from web_world import FAST_HASHER, PASSWORD, WebWorld, web_world

from pbx_sms.storage.rule_store import stored_rules
from pbx_sms.storage.users import add_user

MISSED = "/accounts/acme/rules/Missed%20call"
SLASHED = "/accounts/acme/rules/After%20hours%20%2F%20weekend"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    for world in web_world(database_url):
        seed_rules(world.database)
        yield world


def enabled_of(web: WebWorld, account: str = "acme") -> dict[str, bool]:
    with web.database.session() as session:
        return {stored.name: stored.enabled for stored in stored_rules(session, account)}


def test_a_page_without_login_goes_to_the_login_form_and_back(web: WebWorld) -> None:
    client = browser(web)
    answer = client.get("/accounts/acme/rules", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=/accounts/acme/rules")
    form = client.get(answer.headers["location"]).text
    assert 'name="next" value="/accounts/acme/rules"' in form
    assert '<label for="user">' in form and '<label for="password">' in form
    landed = client.post(
        "/login",
        data={"user": "acme-admin", "password": PASSWORD, "next": "/accounts/acme/rules", "csrf_token": csrf_of(form)},
        follow_redirects=False,
    )
    assert (landed.status_code, landed.headers["location"]) == (303, "/accounts/acme/rules")
    assert "Missed call" in client.get("/accounts/acme/rules").text


def test_login_never_redirects_to_another_site(web: WebWorld) -> None:
    client = browser(web)
    answer = client.post(
        "/login", data=login_form(client, "acme-admin", PASSWORD, next="//evil.example/"), follow_redirects=False
    )
    assert answer.headers["location"] == "/"


def test_a_wrong_password_shows_the_form_again_and_throttling_says_how_long_to_wait(web: WebWorld) -> None:
    client = browser(web)
    wrong = client.post("/login", data=login_form(client, "acme-admin", "nope"), headers={"Accept-Language": "pl"})
    assert wrong.status_code == 401 and "Błędna nazwa użytkownika lub hasło." in wrong.text
    assert 'value="acme-admin"' in wrong.text
    for _attempt in range(10):
        answer = client.post("/login", data=login_form(client, "acme-admin", "nope"))
        if answer.status_code == 429:
            break
    assert answer.status_code == 429
    seconds = int(answer.headers["Retry-After"])
    assert f"Try again in {seconds} s." in answer.text


def test_home_goes_to_the_users_account_and_an_operator_chooses_one(web: WebWorld) -> None:
    admin, _csrf = logged_in(web, "acme-admin")
    assert admin.get("/", follow_redirects=False).headers["location"] == "/accounts/acme/dashboard"
    operator, _csrf = logged_in(web, "root")
    assert operator.get("/", follow_redirects=False).headers["location"] == "/accounts"
    chooser = operator.get("/accounts").text
    assert 'href="/accounts/acme/dashboard"' in chooser and 'href="/accounts/globex/dashboard"' in chooser
    assert "Globex secret" in operator.get("/accounts/globex/rules").text
    assert admin.get("/accounts").status_code == 403


def test_the_rules_list_shows_each_rule_in_short(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    page = client.get("/accounts/acme/rules").text
    assert [name for name in re.findall(r'<h2 class="rule-name"><a href="[^"]+">([^<]+)</a></h2>', page)] == [
        "After hours / weekend",
        "Missed call",
        "Thanks",
    ]
    assert "no answer, busy" in page and "all numbers" in page and "+48221234567" in page
    assert "Sat, Sun; 18:00–08:00" in page and "talk at least 30 s" in page
    assert page.count('src="/static/enabled.svg"') == 2 and page.count('src="/static/disabled.svg"') == 1


def test_another_accounts_pages_are_not_found(web: WebWorld) -> None:
    client, csrf = logged_in(web, "globex-admin")
    assert client.get("/accounts/acme/rules").status_code == 404
    assert client.get(f"{MISSED}/delete").status_code == 404
    assert client.post(f"{MISSED}/enabled", data={"csrf_token": csrf, "enabled": "false"}).status_code == 404
    assert client.post(f"{MISSED}/delete", data={"csrf_token": csrf}).status_code == 404
    assert enabled_of(web)["Missed call"] is True


def test_the_toggle_sets_the_state_the_button_offers(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    off = client.post(f"{MISSED}/enabled", data={"csrf_token": csrf, "enabled": "false"}, follow_redirects=False)
    assert (off.status_code, off.headers["location"]) == (303, "/accounts/acme/rules")
    assert enabled_of(web)["Missed call"] is False
    client.post(f"{MISSED}/enabled", data={"csrf_token": csrf, "enabled": "false"})  # a second click: still off
    assert enabled_of(web)["Missed call"] is False
    client.post(f"{SLASHED}/enabled", data={"csrf_token": csrf, "enabled": "true"})
    assert enabled_of(web) == {"After hours / weekend": True, "Missed call": False, "Thanks": True}


def test_another_accounts_rule_is_not_found_whatever_the_form_says(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    crossed = "/accounts/acme/rules/Globex%20secret"
    assert client.post(f"{crossed}/enabled", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"{crossed}/enabled", data={"csrf_token": csrf, "enabled": "false"}).status_code == 404
    missing = client.post(f"{MISSED}/enabled", data={"csrf_token": csrf, "enabled": "maybe"})
    assert missing.status_code == 422 and missing.headers["content-type"].startswith("text/html")
    assert "enabled: expected true or false" in missing.text


def test_a_form_without_the_csrf_token_changes_nothing(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    assert client.post(f"{MISSED}/enabled", data={"enabled": "false"}).status_code == 403
    assert client.post(f"{MISSED}/delete", data={"csrf_token": "0" * 64}).status_code == 403
    assert enabled_of(web)["Missed call"] is True


def test_delete_asks_first_then_deletes(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    confirm = client.get(f"{SLASHED}/delete")
    assert confirm.status_code == 200
    assert "After hours / weekend" in confirm.text and f'action="{SLASHED}/delete"' in confirm.text
    assert "After hours / weekend" in enabled_of(web)
    done = client.post(f"{SLASHED}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/accounts/acme/rules")
    assert set(enabled_of(web)) == {"Missed call", "Thanks"}
    assert client.get(f"{SLASHED}/delete").status_code == 404


def test_a_viewer_sees_the_rules_without_the_forms(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-viewer")
    page = client.get("/accounts/acme/rules").text
    assert "Missed call" in page and '/enabled"' not in page and "trash.svg" not in page
    assert client.post(f"{MISSED}/enabled", data={"csrf_token": csrf, "enabled": "false"}).status_code == 403
    assert client.get(f"{MISSED}/delete").status_code == 403


def test_the_language_switch_is_the_users_setting(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    assert "SMS after call" in client.get("/accounts/acme/rules", headers={"Accept-Language": "pl"}).text
    switched = client.post(
        "/language", data={"csrf_token": csrf, "language": "pl", "next": "/accounts/acme/rules"}, follow_redirects=False
    )
    assert switched.headers["location"] == "/accounts/acme/rules"
    page = client.get("/accounts/acme/rules").text
    assert '<html lang="pl">' in page and "SMS po połączeniu" in page and "nieodebrane, zajęte" in page
    assert client.post("/language", data={"csrf_token": csrf, "language": "de"}).status_code == 422


def test_until_a_user_picks_a_language_the_browser_and_then_the_accounts_country_choose(web: WebWorld) -> None:
    with web.database.write_session() as session:
        add_user(session, "ewa", role="viewer", account="acme", password=PASSWORD, hasher=FAST_HASHER)
    client, csrf = logged_in(web, "ewa")
    rules = "/accounts/acme/rules"
    assert '<html lang="en">' in client.get(rules, headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert '<html lang="pl">' in client.get(rules, headers={"Accept-Language": "pl-PL,pl;q=0.9"}).text
    assert '<html lang="pl">' in client.get(rules, headers={"Accept-Language": "de"}).text  # acme is in PL
    client.post("/language", data={"csrf_token": csrf, "language": "en", "next": rules})
    assert '<html lang="en">' in client.get(rules, headers={"Accept-Language": "pl"}).text  # now their setting


def test_the_login_page_follows_the_browser_and_the_visitors_choice(web: WebWorld) -> None:
    client = browser(web)
    assert "Nazwa użytkownika" in client.get("/login", headers={"Accept-Language": "pl-PL,pl;q=0.9"}).text
    assert "User name" in client.get("/login", headers={"Accept-Language": "de"}).text
    assert "Nazwa użytkownika" in client.get("/login?lang=pl").text


def test_logout_ends_the_session_on_the_server(web: WebWorld) -> None:
    client, csrf = logged_in(web, "acme-admin")
    cookie = client.cookies["pbx_sms_session"]
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    copied = browser(web)
    copied.cookies.set("pbx_sms_session", cookie)
    assert copied.get("/accounts/acme/rules", follow_redirects=False).status_code == 303


def test_static_files_are_served_without_login(web: WebWorld) -> None:
    css = browser(web).get("/static/panel.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
