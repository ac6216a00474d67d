"""The account page in headless Chromium: the operator's SMS service switch (red → green), an admin's
settings with a mistake then fixed, a number added, another account's admin on the HTML 404 page, a phone
screen, and the forms with scripting off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from pbx_sms.storage.accounts import AccountChanges, get_account, update_account
from pbx_sms.storage.numbers import list_numbers, list_senders

from .conftest import Panel

ACCOUNT = "/accounts/acme/settings"
PHONE = {"width": 360, "height": 740}
RED = "rgb(164, 38, 44)"
GREEN = "rgb(30, 123, 52)"


def settings_of(panel: Panel) -> tuple[bool, int | None, str | None]:
    with panel.world.database.session() as session:
        account = get_account(session, "acme")
        return account.sms_enabled, account.daily_cap, account.quiet_hours


def numbers_of(panel: Panel) -> list[str]:
    with panel.world.database.session() as session:
        return [e164 for e164, _owner in list_numbers(session, "acme")]


@pytest.fixture
def no_script_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    yield context.new_page()
    context.close()


def test_an_operator_switches_the_sms_service_on(panel: Panel, page: Page) -> None:
    with panel.world.database.write_session() as session:
        update_account(session, "acme", AccountChanges(sms_enabled=False))
    panel.log_in(page, "root", path=f"/login?next={ACCOUNT}")
    switch = page.locator("button#service")
    expect(switch).to_have_text("SMS service is off: click to switch it on")
    expect(switch).to_have_css("background-color", RED)
    switch.click()
    expect(switch).to_have_text("SMS service is on: click to switch it off")
    expect(switch).to_have_css("background-color", GREEN)
    assert settings_of(panel)[0] is True
    panel.screenshot(page, "account")


def test_an_admin_fixes_a_mistake_in_the_settings_and_adds_a_number(panel: Panel, page: Page) -> None:
    panel.log_in(page, "acme-admin")
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page).to_have_url(f"{panel.url}{ACCOUNT}")
    expect(page.locator("#service")).to_have_text("SMS service is on")
    expect(page.locator("button#service")).to_have_count(0)  # the operator's switch, not the admin's
    before = settings_of(panel)
    page.get_by_label("Daily cap").fill("150 a day")
    page.get_by_label("Quiet hours").fill("22:00-7")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.locator("#error-daily_cap")).to_contain_text("Enter a whole number")
    expect(page.locator("#error-quiet_hours")).to_be_visible()
    expect(page.get_by_label("Daily cap")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Quiet hours")).to_have_value("22:00-7")
    assert settings_of(panel) == before
    panel.screenshot(page, "account-error")
    page.get_by_label("Daily cap").fill("150")
    page.get_by_label("Quiet hours").fill("22:00-07:00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_label("Daily cap")).to_have_value("150")
    assert settings_of(panel) == (True, 150, "22:00-07:00")
    page.get_by_label("New number").fill("22 765 43 21")
    page.get_by_role("button", name="Add number").click()
    expect(page.locator("#numbers")).to_contain_text("+48227654321")
    assert "+48227654321" in numbers_of(panel)


def test_an_admin_of_another_account_gets_the_not_found_page(panel: Panel, page: Page) -> None:
    panel.log_in(page, "globex-admin")
    answer = page.goto(f"{panel.url}{ACCOUNT}")
    assert answer is not None and answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert "+48221234567" not in page.content()


def test_the_account_page_fits_a_phone(panel: Panel, browser: Browser) -> None:
    context = browser.new_context(viewport=PHONE, locale="pl-PL")
    phone = context.new_page()
    panel.log_in(phone, "acme-admin", path=f"/login?next={ACCOUNT}")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("acme")
    assert bool(phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))
    panel.screenshot(phone, "account-phone")
    context.close()


def test_without_scripting_a_sender_is_added_and_removed(panel: Panel, no_script_page: Page) -> None:
    page = no_script_page
    panel.log_in(page, "acme-admin", path=f"/login?next={ACCOUNT}")
    page.get_by_label("New sender ID").fill("ACME Shop")
    page.get_by_role("button", name="Add sender ID").click()
    expect(page.locator("#senders")).to_contain_text("ACME Shop")
    page.get_by_role("button", name="Remove: ACME Shop").click()
    expect(page.locator("#senders")).not_to_contain_text("ACME Shop")
    with panel.world.database.session() as session:
        assert [sender for sender, _owner in list_senders(session, "acme")] == ["ACME"]
