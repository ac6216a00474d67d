"""The panel in a real browser: headless Chromium (Debian's package, never `playwright install`) driving
the app served by a real uvicorn on loopback, over a seeded SQLite or PostgreSQL database.

Screenshots go to a temporary folder, or to $PBX_SMS_SCREENSHOTS when set (docs/screenshots/refresh.py
sets it to refresh the committed copies), so a CI run leaves the checkout as it was.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from panel_world import seed_rules
from playwright.sync_api import Browser, Page, sync_playwright
from ports import free_port
from web_world import PASSWORD, WebWorld, web_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS_VARIABLE = "PBX_SMS_SCREENSHOTS"
START_TIMEOUT_S = 20.0


@dataclass
class Panel:
    """A running panel: its address, the world behind it (database, users) and where screenshots go."""

    url: str
    world: WebWorld
    screenshots: Path

    def log_in(self, page: Page, user: str, *, path: str = "/") -> None:
        page.goto(f"{self.url}{path}")
        page.get_by_label("User name").or_(page.get_by_label("Nazwa użytkownika")).fill(user)
        page.get_by_label("Password").or_(page.get_by_label("Hasło")).fill(PASSWORD)
        page.locator("form.login button[type=submit]").click()
        page.wait_for_load_state()

    def screenshot(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.screenshots / f"{name}.png"), full_page=True)


# Module, not session: Playwright's sync API keeps its event loop running in the main thread while it
# is open, and every asyncio test collected after the browser tier would fail ("cannot be called from
# a running event loop").
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    target = os.environ.get(SCREENSHOTS_VARIABLE)
    folder = Path(target) if target else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def panel(database_url: str, screenshots: Path) -> Iterator[Panel]:
    for world in web_world(database_url):
        seed_rules(world.database)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(world.client.app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        try:
            yield Panel(f"http://127.0.0.1:{port}", world, screenshots)
        finally:
            server.should_exit = True
            thread.join(START_TIMEOUT_S)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1024, "height": 768})
    yield context.new_page()
    context.close()
