"""`pbx-sms delivery`: the last days' delivery figures of an account, as a table and as JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cli_helpers import Cli, admin_cli
from web_sms import delivery_week, sent_sms
from web_world import WebWorld, web_world


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


@pytest.fixture
def cli(database_url: str, web: WebWorld) -> Cli:
    return admin_cli(database_url)


def table(output: str) -> list[list[str]]:
    """The table's lines as cells (columns are two or more spaces apart), from its header on."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("RULE ID"))
    return [re.split(r" {2,}", line.strip()) for line in lines[start:]]


def test_a_table_per_rule_with_the_accounts_total(web: WebWorld, cli: Cli) -> None:
    delivery_week(web, datetime.now(UTC))
    output = cli("delivery", "--account", "acme").output
    assert output.startswith("account acme: SMS sent since ") and "(7 days)" in output.splitlines()[0]
    assert table(output) == [
        ["RULE ID", "RULE", "SENT", "DELIVERED", "NOT DELIVERED", "PENDING", "RATE"],
        ["1", "Missed call", "5", "2", "1", "2", "66.7%"],
        ["2", "Thanks", "1", "0", "1", "0", "0.0%"],
        ["-", "(all rules)", "6", "2", "2", "2", "50.0%"],
    ]
    assert "Globex" not in output


def test_days_and_a_rule_with_nothing_final(web: WebWorld, cli: Cli) -> None:
    delivery_week(web, datetime.now(UTC))
    sent_sms(web, "acme", at=datetime.now(UTC), message_id="n1", rule_id=3, rule_name="No reports yet")
    rows = table(cli("delivery", "--account", "acme", "--days", "10").output)
    assert rows[1] == ["1", "Missed call", "6", "3", "1", "2", "75.0%"]
    assert rows[3] == ["3", "No reports yet", "1", "0", "0", "1", "—"]
    assert rows[4] == ["-", "(all rules)", "8", "3", "2", "3", "60.0%"]


def test_json_has_the_apis_shape(web: WebWorld, cli: Cli) -> None:
    delivery_week(web, datetime.now(UTC))
    body = json.loads(cli("delivery", "--account", "acme", "--json").output)
    assert (body["account"], body["days"]) == ("acme", 7)
    datetime.fromisoformat(body["since"])
    assert body["total"] == {"sent": 6, "delivered": 2, "undelivered": 2, "pending": 2, "rate": 0.5}
    assert body["rules"][1] == {
        "rule_id": 2,
        "rule_name": "Thanks",
        "sent": 1,
        "delivered": 0,
        "undelivered": 1,
        "pending": 0,
        "rate": 0.0,
    }
    api = web.as_("acme-admin").get("/api/v1/accounts/acme/delivery").json()
    assert {key: value for key, value in body.items() if key != "since"} == {
        key: value for key, value in api.items() if key != "since"
    }


def test_nothing_sent_and_the_errors(web: WebWorld, cli: Cli) -> None:
    assert "No SMS sent in the last 7 days." in cli("delivery", "--account", "globex").output
    assert json.loads(cli("delivery", "--account", "globex", "--json").output)["total"]["rate"] is None
    assert "account 'nobody' does not exist" in cli("delivery", "--account", "nobody", code=1).output
    assert "--days" in cli("delivery", "--account", "acme", "--days", "91", code=2).output
    assert "--days" in cli("delivery", "--account", "acme", "--days", "0", code=2).output
    assert "--account" in cli("delivery", code=2).output
