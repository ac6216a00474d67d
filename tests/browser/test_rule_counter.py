"""The rule form's live counter in Chromium: typing asks the API's preview (debounced) and the counter
follows, the characters that force UCS-2 marked; the transliteration switch shows its effect; with
scripting off the "Count the text" button does the same through the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from .conftest import Panel

NEW_RULE = "/accounts/acme/rules/new"
PREVIEW = "/api/v1/accounts/acme/rules/preview"


def figure(page: Page, name: str) -> str:
    return page.locator(f'#counter [data-counter="{name}"]').inner_text()


@pytest.fixture
def no_script_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    yield context.new_page()
    context.close()


def test_typing_polish_text_switches_the_counter_to_ucs2_and_more_parts(panel: Panel, page: Page) -> None:
    previews: list[Request] = []
    page.on("request", lambda request: previews.append(request) if request.url.endswith(PREVIEW) else None)
    panel.log_in(page, "acme-admin", path=NEW_RULE)
    counter = page.locator("#counter")
    expect(counter.locator('[data-counter="encoding"]')).to_have_text("GSM-7")
    expect(page.get_by_role("button", name="Count the text")).to_be_hidden()  # scripting counts live

    message = page.get_by_label("Message")
    message.press_sequentially("Dzien dobry, oddzwonimy wkrotce. " * 4, delay=2)
    expect(counter.locator('[data-counter="characters"]')).to_have_text("132")
    assert (figure(page, "encoding"), figure(page, "parts"), figure(page, "left")) == ("GSM-7", "1", "28")
    assert len(previews) < 20  # debounced: not one request per key
    expect(counter.locator('[data-counter="ucs2-line"]')).to_be_hidden()

    message.press("End")
    message.press_sequentially("Dziękujemy!", delay=20)
    expect(counter.locator('[data-counter="encoding"]')).to_have_text("UCS-2")
    assert (figure(page, "characters"), figure(page, "parts"), figure(page, "left")) == ("143", "3", "58")
    expect(counter.locator('[data-counter="ucs2"]')).to_have_text("ę")
    expect(counter.locator("mark")).to_have_text(["ę"])
    expect(counter.locator('[data-counter="transliterated-encoding"]')).to_have_text("GSM-7")
    expect(counter.locator('[data-counter="transliterated-parts"]')).to_have_text("1")
    panel.screenshot(page, "rule-counter")

    page.get_by_label("Replace Polish letters").check()
    expect(counter.locator('[data-counter="encoding"]')).to_have_text("GSM-7")
    assert (figure(page, "characters"), figure(page, "parts")) == ("143", "1")
    expect(counter.locator("[data-counter=sample]")).to_contain_text("Dziekujemy!")
    assert previews and all(request.headers.get("x-csrf-token") for request in previews)


def test_a_template_mistake_is_shown_by_the_counter_while_typing(panel: Panel, page: Page) -> None:
    panel.log_in(page, "acme-admin", path=NEW_RULE)
    page.get_by_label("Message").fill("Call {nobody} back")
    problems = page.locator('#counter [data-counter="problems"]')
    expect(problems).to_be_visible()
    expect(problems).to_contain_text("nobody")
    page.get_by_label("Message").fill("Call {other_party} back")
    expect(problems).to_be_hidden()


def test_without_scripting_the_count_button_counts_through_the_server(panel: Panel, no_script_page: Page) -> None:
    page = no_script_page
    panel.log_in(page, "acme-admin", path=NEW_RULE)
    page.get_by_label("Message").fill("Zażółć gęślą jaźń")  # no name yet: counting needs none
    page.get_by_role("button", name="Count the text").click()
    expect(page.locator('#counter [data-counter="encoding"]')).to_have_text("UCS-2")
    expect(page.locator('#counter [data-counter="characters"]')).to_have_text("17")
    expect(page.get_by_label("Message")).to_have_value("Zażółć gęślą jaźń")
