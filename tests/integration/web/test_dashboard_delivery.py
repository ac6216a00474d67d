"""The dashboard's "Delivery over the last 7 days" table over the real app, in English and Polish."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from panel_world import logged_in
from web_sms import delivery_week
from web_world import WebWorld, web_world

from pbx_sms.storage.users import set_language

DASHBOARD = "/accounts/{account}/dashboard"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def delivery_rows(html: str) -> list[list[str]]:
    """The delivery table's body and footer rows: the row's heading, then its cells."""
    table = html[html.index('id="delivery"') : html.index("</table>", html.index('id="delivery"'))]
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table)
    return [[name, *re.findall(r"<td>(.*?)</td>", cells)] for name, cells in rows]


def test_the_account_users_see_the_last_7_days_per_rule_and_the_total(web: WebWorld) -> None:
    delivery_week(web, datetime.now(UTC))
    client, _csrf = logged_in(web, "acme-viewer")
    page = client.get(DASHBOARD.format(account="acme")).text
    assert "Delivery over the last 7 days" in page
    headers = re.findall(r'<th scope="col">(.*?)</th>', page[page.index('id="delivery"') :])
    assert headers == ["Rule", "Sent", "Delivered", "Not delivered", "Pending", "Delivery rate"]
    # The 8-day-old SMS and globex's are not counted.
    assert delivery_rows(page) == [
        ["Missed call", "5", "2", "1", "2", "66.7%"],
        ["Thanks", "1", "0", "1", "0", "0%"],
        ["All rules", "6", "2", "2", "2", "50%"],
    ]
    assert "Globex secret" not in page
    operator, _csrf = logged_in(web, "root")
    globex = operator.get(DASHBOARD.format(account="globex")).text
    assert delivery_rows(globex) == [
        ["Globex secret", "1", "1", "0", "0", "100%"],
        ["All rules", "1", "1", "0", "0", "100%"],
    ]


def test_in_polish(web: WebWorld) -> None:
    delivery_week(web, datetime.now(UTC))
    with web.database.write_session() as session:
        set_language(session, "acme-admin", "pl")
    client, _csrf = logged_in(web, "acme-admin")
    page = client.get(DASHBOARD.format(account="acme")).text
    assert "Doręczenia z ostatnich 7 dni" in page
    headers = re.findall(r'<th scope="col">(.*?)</th>', page[page.index('id="delivery"') :])
    assert headers == ["Reguła", "Wysłane", "Doręczone", "Niedoręczone", "Oczekujące", "Skuteczność doręczeń"]
    assert delivery_rows(page)[0] == ["Missed call", "5", "2", "1", "2", "66,7%"]
    assert delivery_rows(page)[-1][0] == "Wszystkie reguły"


def test_nothing_sent_in_the_last_7_days(web: WebWorld) -> None:
    client, _csrf = logged_in(web, "acme-admin")
    page = client.get(DASHBOARD.format(account="acme")).text
    assert "No SMS sent in the last 7 days." in page and 'id="delivery"' not in page
    with web.database.write_session() as session:
        set_language(session, "acme-admin", "pl")
    assert "Brak SMS wysłanych w ostatnich 7 dniach." in client.get(DASHBOARD.format(account="acme")).text
