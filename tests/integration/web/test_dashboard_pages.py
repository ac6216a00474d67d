"""The dashboard over the real app: where users land, today's counts, recent errors, the chart, the daemons."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from panel_world import logged_in
from web_seed import SeededWorld, seeded_world
from web_sms import queue_sms

from pbx_sms.daemon.status import write_heartbeat

DASHBOARD = "/accounts/acme/dashboard"


@pytest.fixture
def seeded(database_url: str) -> Iterator[SeededWorld]:
    yield from seeded_world(database_url)


def count_in(html: str, table: str, label: str) -> int:
    section = html[html.index(f'id="{table}"') :]
    found = re.search(rf'<th scope="row">{re.escape(label)}</th><td>(\d+)</td>', section)
    assert found is not None, section[:800]
    return int(found.group(1))


def test_users_land_on_their_accounts_dashboard_and_operators_choose(seeded: SeededWorld) -> None:
    admin, _csrf = logged_in(seeded.world, "acme-admin")
    assert admin.get("/", follow_redirects=False).headers["location"] == DASHBOARD
    operator, _csrf = logged_in(seeded.world, "root")
    assert 'href="/accounts/globex/dashboard"' in operator.get("/accounts").text
    assert operator.get("/accounts/globex/dashboard").status_code == 200
    assert admin.get("/accounts/globex/dashboard").status_code == 404


def test_todays_calls_and_sms_by_status_and_the_recent_errors(seeded: SeededWorld) -> None:
    world = seeded.world
    queue_sms(world, "acme", at=datetime.now(UTC) - timedelta(days=3), rule_name="old")  # not today
    client, _csrf = logged_in(world, "acme-viewer")
    page = client.get(DASHBOARD).text
    # The seed: per copy one no-answer call and three SMS (queued, sent, failed), all just now.
    assert count_in(page, "calls-today", "no answer") == 2 and count_in(page, "calls-today", "answered") == 0
    assert [count_in(page, "sms-today", label) for label in ("queued", "sent", "failed")] == [2, 2, 2]
    errors = page[page.index('id="errors-heading"') :]
    assert errors.count("permanent: HTTP 400: invalid number") == 2
    failed = seeded.seed.copies["acme", 1].sms_ids["failed"]
    assert f'href="/accounts/acme/sms/{failed}"' in errors
    assert "globex" not in errors.lower()


def test_the_chart_is_an_svg_with_a_title_and_the_weeks_totals(seeded: SeededWorld) -> None:
    world = seeded.world
    queue_sms(world, "acme", at=datetime.now(UTC) - timedelta(days=3), rule_name="old")
    queue_sms(world, "acme", at=datetime.now(UTC) - timedelta(days=9), rule_name="older")  # outside the week
    client, _csrf = logged_in(world, "acme-admin")
    page = client.get(DASHBOARD).text
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "2 calls and 7 SMS in the last 7 days" in svg
    assert svg.count('class="day"') == 7 and svg.count("<polyline") == 2
    assert "<script" not in page and "style=" not in page


def test_the_daemons_and_their_ami_are_shown(seeded: SeededWorld) -> None:
    client, _csrf = logged_in(seeded.world, "acme-admin")
    assert "No daemon has reported yet" in client.get(DASHBOARD).text
    now = datetime.now(UTC)
    write_heartbeat(seeded.world.database.engine, "test-instance", "pbx-main", now, "up", {}, now)
    page = client.get(DASHBOARD).text
    assert "pbx-main" in page and "running" in page and "AMI connected" in page
    assert socket.gethostname() not in page  # the installation's hosts: operators only
    operator, _csrf = logged_in(seeded.world, "root")
    assert socket.gethostname() in operator.get(DASHBOARD).text
