"""The SMS log in headless Chromium: filter it, open one SMS, cancel a pending one, at 360 px too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Browser, Page, expect
from web_sms import queue_sms

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.sms_status import Status
from pbx_sms.intake.calls import record_call
from pbx_sms.outbox.sql import SqlOutbox

from .conftest import Panel

LOG = "/accounts/acme/sms"
PHONE = {"width": 360, "height": 740}


def switch_language(page: Page, language: str) -> None:
    page.locator("#language").select_option(language)
    page.locator("form[action='/language'] button[type=submit]").click()
    page.wait_for_load_state()


def seed_log(panel: Panel) -> int:
    """Three SMS of acme (one after a recorded call) and one of globex; the id of the one with the call."""
    now = datetime.now(UTC).replace(microsecond=0)
    world = panel.world
    call = CompletedCall(
        "browser-call", "in", "+48221234567", "+48602111222", "no_answer", 0, now - timedelta(minutes=2), now
    )
    record_call(world.database.engine, call, "pbx-browser", "ami", now)
    row = queue_sms(
        world,
        "acme",
        at=now - timedelta(minutes=1),
        pbx="pbx-browser",
        call_id="browser-call",
        to="+48602111222",
        rule_name="Missed call",
        text="Przepraszamy, oddzwonimy.",
        encoding="GSM-7",  # as the outbox would write this text: the detail page and its screenshot show it
    )
    queue_sms(world, "acme", at=now - timedelta(minutes=3), to="+48603333444", rule_name="Thanks")
    queue_sms(world, "acme", at=now - timedelta(minutes=4), to="+48604444555", rule_name="Thanks")
    queue_sms(world, "globex", at=now - timedelta(minutes=2), to="+48605555666", rule_name="Globex secret")
    return row.id


def test_filter_open_one_sms_and_cancel_it(panel: Panel, page: Page) -> None:
    sms_id = seed_log(panel)
    panel.log_in(page, "acme-admin", path=LOG)
    expect(page.get_by_role("heading", level=1)).to_have_text("SMS log")
    expect(page.locator("table.sms-log tbody tr")).to_have_count(3)
    page.get_by_label("Number").fill("602 111 222")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.sms-log tbody tr")).to_have_count(1)
    expect(page.get_by_label("Number")).to_have_value("602 111 222")
    panel.screenshot(page, "sms-log")
    page.locator("table.sms-log tbody a").first.click()
    expect(page).to_have_url(f"{panel.url}{LOG}/{sms_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("queued")
    expect(page.locator("main")).to_contain_text("Przepraszamy, oddzwonimy.")
    expect(page.locator("main")).to_contain_text("no answer")
    panel.screenshot(page, "sms-detail")
    page.get_by_role("button", name="Cancel this SMS").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Send again")).to_be_visible()
    row = SqlOutbox(panel.world.database.engine).get(sms_id)
    assert row is not None and row.status is Status.CANCELLED


def test_filter_by_status_and_a_viewer_sees_no_buttons(panel: Panel, page: Page) -> None:
    sms_id = seed_log(panel)
    panel.log_in(page, "acme-viewer", path=LOG)
    page.get_by_label("Status").select_option("cancelled")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No SMS match these filters.")).to_be_visible()
    page.goto(f"{panel.url}{LOG}/{sms_id}")
    expect(page.locator("main")).to_contain_text("Przepraszamy, oddzwonimy.")
    expect(page.get_by_role("button", name="Cancel this SMS")).to_have_count(0)


def test_the_log_fits_a_phone(panel: Panel, browser: Browser) -> None:
    sms_id = seed_log(panel)
    context = browser.new_context(viewport=PHONE, locale="pl-PL")
    phone = context.new_page()
    panel.log_in(phone, "acme-admin", path=LOG)
    switch_language(phone, "pl")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Dziennik SMS")
    for path in (LOG, f"{LOG}/{sms_id}"):
        phone.goto(f"{panel.url}{path}")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    switch_language(phone, "en")  # the user's setting: back as the other tests expect it
    context.close()
