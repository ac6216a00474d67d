"""A rule saved in the panel reaches a running daemon: the admin creates it in Chromium, then a real
`pbx-sms run` subprocess, connected to the fake Asterisk, sees a missed call to the rule's number and
texts the caller exactly what the rule says (the log gateway writes the SMS it would send)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

from ami_server import FakeAmiServer, load_recording_events, move_to_now
from e2e.daemon import AMI_SECRET, AMI_USER, DaemonProcess, daemon_env, wait_until
from paths import FIXTURES
from playwright.sync_api import Page, expect

from pbx_sms.storage.numbers import add_number

from .conftest import Panel

RULES = "/accounts/acme/rules"
# in_noanswer: +48604567890 calls the company's +48221234569, nobody answers.
COMPANY = "+48221234569"
CALLER = "+48604567890"
TEXT = "Przepraszamy, nie odebraliśmy. Oddzwonimy na {other_party}."
DAEMON_TIMEOUT_S = 30.0


async def one_missed_call_through_a_daemon(database_url: str, workdir: Path) -> list[dict[str, Any]]:
    sms_log = workdir / "sms.jsonl"
    async with FakeAmiServer(username=AMI_USER, secret=AMI_SECRET) as ami:
        env = daemon_env(database_url, ami.port, "http://127.0.0.1:9/", gateway="log", log_path=str(sms_log))
        async with DaemonProcess(env, workdir, "daemon") as daemon:
            session = await ami.wait_sessions(1, DAEMON_TIMEOUT_S)
            moved, _delta_s = move_to_now(load_recording_events(FIXTURES / "in_noanswer.callcdr.ami"))
            await session.send_events(moved)
            await wait_until(lambda: sms_log.exists() and bool(sms_log.read_text().strip()), DAEMON_TIMEOUT_S, "an SMS")
            assert await daemon.terminate() == 0, daemon.output[-3000:]
    return [json.loads(line) for line in sms_log.read_text(encoding="utf-8").splitlines()]


def in_own_loop(database_url: str, workdir: Path) -> list[dict[str, Any]]:
    """The daemon's part on an event loop of its own thread: Playwright's sync API holds this thread's."""
    found: list[list[dict[str, Any]]] = []
    failures: list[BaseException] = []

    def run() -> None:
        try:
            found.append(asyncio.run(one_missed_call_through_a_daemon(database_url, workdir)))
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=run, name="daemon-test")
    thread.start()
    thread.join(3 * DAEMON_TIMEOUT_S)
    if failures:
        raise failures[0]
    assert found, "the daemon's part did not finish"
    return found[0]


def test_a_rule_saved_in_the_panel_texts_the_next_missed_call(
    panel: Panel, page: Page, database_url: str, tmp_path: Path
) -> None:
    with panel.world.database.write_session() as session:
        add_number(session, COMPANY, "acme")
    panel.log_in(page, "acme-admin", path=RULES)
    # acme's seeded "Missed call" answers missed calls on all numbers too: only the new rule may text.
    toggle = page.locator("li.rule", has=page.get_by_role("heading", name="Missed call", exact=True)).locator(
        "button.toggle"
    )
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.get_by_role("link", name="Create new rule").click()
    page.get_by_label("Name", exact=True).fill("Oddzwonimy")
    page.get_by_label("all numbers").uncheck()
    page.get_by_label("or only these").select_option(COMPANY)
    page.get_by_label("Sender").select_option("ACME")
    page.get_by_label("Message").fill(TEXT)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{panel.url}{RULES}")

    sms = in_own_loop(database_url, tmp_path)

    assert [(item["to"], item["from"], item["text"]) for item in sms] == [
        (CALLER, "ACME", f"Przepraszamy, nie odebraliśmy. Oddzwonimy na {CALLER}.")
    ]
