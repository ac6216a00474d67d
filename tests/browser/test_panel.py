"""The panel's flows in headless Chromium: log in, the rules list, enable/disable, delete, the language,
another account's pages, a 360 px phone, and the same forms with scripting off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from pbx_sms.storage.rule_store import stored_rules

from .conftest import Panel

RULES = "/accounts/acme/rules"
PHONE = {"width": 360, "height": 740}


def enabled_of(panel: Panel) -> dict[str, bool]:
    with panel.world.database.session() as session:
        return {stored.name: stored.enabled for stored in stored_rules(session, "acme")}


def rule_item(page: Page, name: str) -> Locator:
    return page.locator("li.rule", has=page.get_by_role("heading", name=name, exact=True))


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.fixture
def no_script_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    yield context.new_page()
    context.close()


def test_log_in_and_see_the_rules(panel: Panel, page: Page) -> None:
    page.goto(f"{panel.url}{RULES}")
    expect(page).to_have_url(f"{panel.url}/login?next={RULES}")
    panel.screenshot(page, "login")
    panel.log_in(page, "acme-admin", path=f"/login?next={RULES}")
    expect(page).to_have_url(f"{panel.url}{RULES}")
    expect(page.get_by_role("heading", level=1)).to_have_text("SMS after call")
    expect(page.locator("h2.rule-name")).to_have_text(["After hours / weekend", "Missed call", "Thanks"])
    missed = rule_item(page, "Missed call")
    expect(missed).to_contain_text("no answer, busy")
    expect(missed.get_by_role("button", name="Enabled: Missed call")).to_have_attribute("aria-pressed", "true")
    panel.screenshot(page, "rules")


def test_a_wrong_password_is_said_on_the_form(panel: Panel, page: Page) -> None:
    page.goto(f"{panel.url}/login")
    page.get_by_label("User name").fill("acme-admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")


def test_toggle_a_rule_off_and_on_and_it_stays(panel: Panel, page: Page) -> None:
    panel.log_in(page, "acme-admin", path=RULES)
    for shown, becomes, pressed in (("Enabled", "Disabled", "false"), ("Disabled", "Enabled", "true")):
        rule_item(page, "Missed call").get_by_role("button", name=f"{shown}: Missed call").click()
        after = rule_item(page, "Missed call").get_by_role("button", name=f"{becomes}: Missed call")
        expect(after).to_have_attribute("aria-pressed", pressed)  # the list the POST redirected to
        page.reload()
        expect(after).to_have_attribute("aria-pressed", pressed)
        assert enabled_of(panel)["Missed call"] is (pressed == "true")
    assert enabled_of(panel) == {"After hours / weekend": False, "Missed call": True, "Thanks": True}


def test_delete_asks_on_a_page_then_deletes(panel: Panel, page: Page) -> None:
    panel.log_in(page, "acme-admin", path=RULES)
    rule_item(page, "After hours / weekend").get_by_role("link", name="Delete: After hours / weekend").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete rule")
    expect(page.locator("main")).to_contain_text("“After hours / weekend”")
    panel.screenshot(page, "delete")
    page.get_by_role("link", name="Cancel").click()
    assert "After hours / weekend" in enabled_of(panel)
    rule_item(page, "After hours / weekend").get_by_role("link", name="Delete: After hours / weekend").click()
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(f"{panel.url}{RULES}")
    expect(page.locator("h2.rule-name")).to_have_text(["Missed call", "Thanks"])
    assert set(enabled_of(panel)) == {"Missed call", "Thanks"}


def test_switch_the_language_both_ways(panel: Panel, page: Page) -> None:
    panel.log_in(page, "acme-admin", path=RULES)
    page.get_by_label("Language").select_option("pl")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SMS po połączeniu")
    expect(rule_item(page, "Missed call")).to_contain_text("nieodebrane, zajęte")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    panel.screenshot(page, "rules-pl")
    page.get_by_label("Język").select_option("en")
    page.get_by_role("button", name="Zmień").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("SMS after call")


def test_an_admin_of_another_account_gets_not_found(panel: Panel, page: Page) -> None:
    panel.log_in(page, "globex-admin", path="/accounts/globex/rules")
    expect(page.locator("h2.rule-name")).to_have_text(["Globex secret"])
    for path in (RULES, f"{RULES}/Missed%20call/delete"):
        answer = page.goto(f"{panel.url}{path}")
        assert answer is not None and answer.status == 404
    assert "Missed call" not in page.content()


def test_an_operator_chooses_the_account(panel: Panel, page: Page) -> None:
    panel.log_in(page, "root")
    expect(page).to_have_url(f"{panel.url}/accounts")
    panel.screenshot(page, "accounts")
    page.get_by_role("link", name="globex").click()
    expect(page).to_have_url(f"{panel.url}/accounts/globex/dashboard")
    page.get_by_role("link", name="SMS after call").click()
    expect(page.locator("h2.rule-name")).to_have_text(["Globex secret"])


def test_a_360_px_screen_has_no_horizontal_scroll(panel: Panel, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, locale="pl-PL")
    phone = context.new_page()
    phone.goto(f"{panel.url}/login")
    assert no_horizontal_scroll(phone)
    panel.log_in(phone, "acme-admin", path=RULES)
    for path in (RULES, f"{RULES}/After%20hours%20%2F%20weekend/delete"):
        phone.goto(f"{panel.url}{path}")
        assert no_horizontal_scroll(phone), path
    phone.goto(f"{panel.url}{RULES}")
    panel.screenshot(phone, "rules-phone")
    context.close()


def test_the_keyboard_reaches_the_toggle(panel: Panel, page: Page) -> None:
    panel.log_in(page, "acme-admin", path=RULES)
    toggle = rule_item(page, "Missed call").get_by_role("button", name="Enabled: Missed call")
    for _press in range(30):
        page.keyboard.press("Tab")
        if toggle.evaluate("element => element === document.activeElement"):
            break
    page.keyboard.press("Enter")
    expect(rule_item(page, "Missed call").get_by_role("button", name="Disabled: Missed call")).to_be_visible()


def test_without_scripting_the_toggle_and_delete_still_work(panel: Panel, no_script_page: Page) -> None:
    page = no_script_page
    panel.log_in(page, "acme-admin", path=RULES)
    rule_item(page, "Thanks").get_by_role("button", name="Enabled: Thanks").click()
    expect(rule_item(page, "Thanks").get_by_role("button", name="Disabled: Thanks")).to_be_visible()
    assert enabled_of(panel)["Thanks"] is False
    rule_item(page, "Thanks").get_by_role("link", name="Delete: Thanks").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.locator("h2.rule-name")).to_have_text(["After hours / weekend", "Missed call"])
    assert "Thanks" not in enabled_of(panel)


def test_create_a_rule_with_a_mistake_then_fix_it(panel: Panel, page: Page) -> None:
    panel.log_in(page, "acme-admin", path=RULES)
    page.get_by_role("link", name="Create new rule").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New rule")
    page.get_by_label("Name", exact=True).fill("Oddzwonimy")
    page.get_by_label("busy").check()
    page.get_by_label("Sender").select_option("ACME")
    page.get_by_label("Message").fill("Nie odebraliśmy połączenia, oddzwonimy wkrótce.")
    page.get_by_label("Hours").fill("18:00-8")
    panel.screenshot(page, "rule-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("The rule was not saved")
    expect(page.locator("#error-hours")).to_contain_text("expected HH:MM-HH:MM: '18:00-8'")
    expect(page.get_by_label("Hours")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Message")).to_have_value("Nie odebraliśmy połączenia, oddzwonimy wkrótce.")
    assert "Oddzwonimy" not in enabled_of(panel)
    panel.screenshot(page, "rule-form-error")
    page.get_by_label("Hours").fill("18:00-08:00")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{panel.url}{RULES}")
    expect(rule_item(page, "Oddzwonimy")).to_contain_text("no answer, busy")
    expect(rule_item(page, "Oddzwonimy")).to_contain_text("18:00–08:00")
    assert enabled_of(panel)["Oddzwonimy"] is True


def test_the_rule_form_fits_a_phone(panel: Panel, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE)
    phone = context.new_page()
    panel.log_in(phone, "acme-admin", path=RULES)
    phone.goto(f"{panel.url}{RULES}/Missed%20call/edit")
    expect(phone.get_by_label("Name", exact=True)).to_have_value("Missed call")
    assert no_horizontal_scroll(phone)
    context.close()
