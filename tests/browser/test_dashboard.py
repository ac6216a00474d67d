"""The dashboard in headless Chromium: where a user lands, today's counts, the chart, at 360 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Browser, Page, expect
from web_sms import delivery_week, queue_sms

from pbx_sms.daemon.status import write_heartbeat

from .conftest import Panel

DASHBOARD = "/accounts/acme/dashboard"
PHONE = {"width": 360, "height": 740}


def switch_language(page: Page, language: str) -> None:
    page.locator("#language").select_option(language)
    page.locator("form[action='/language'] button[type=submit]").click()
    page.wait_for_load_state()


def seed(panel: Panel) -> None:
    now = datetime.now(UTC)
    delivery_week(panel.world, now)  # first: its SMS are claimed and sent, the ones below stay queued
    for minutes in (1, 2, 3):
        queue_sms(panel.world, "acme", at=now - timedelta(minutes=minutes), rule_name="Thanks")
    queue_sms(panel.world, "acme", at=now - timedelta(days=2), rule_name="Thanks")
    write_heartbeat(panel.world.database.engine, "browser-daemon", "pbx-main", now, "up", {}, now)


def test_log_in_lands_on_the_dashboard_with_counts_and_the_chart(panel: Panel, page: Page) -> None:
    seed(panel)
    panel.log_in(page, "acme-admin")
    expect(page).to_have_url(f"{panel.url}{DASHBOARD}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator("#sms-today tr", has_text="queued")).to_contain_text("3")
    expect(page.locator("main")).to_contain_text("AMI connected")
    chart = page.get_by_role("img", name="Calls and SMS per hour, last 7 days")
    expect(chart).to_be_visible()
    expect(page.locator("figure.chart figcaption")).to_contain_text("SMS: 10")  # with delivery_week's 6
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 150
    delivery = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Delivery rate"))
    expect(delivery.get_by_role("row", name="Missed call")).to_contain_text("66.7%")
    expect(delivery.get_by_role("row", name="All rules")).to_contain_text("50%")
    panel.screenshot(page, "dashboard")


def test_the_dashboard_fits_a_phone(panel: Panel, browser: Browser) -> None:
    seed(panel)
    context = browser.new_context(viewport=PHONE, locale="pl-PL")
    phone = context.new_page()
    panel.log_in(phone, "acme-admin")
    switch_language(phone, "pl")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Pulpit")
    chart = phone.get_by_role("img", name="Połączenia i SMS na godzinę, ostatnie 7 dni")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] <= PHONE["width"] and box["height"] > 50
    expect(phone.locator("#delivery")).to_contain_text("Skuteczność doręczeń")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    panel.screenshot(phone, "dashboard-phone")
    switch_language(phone, "en")  # the user's setting: back as the other tests expect it
    context.close()
