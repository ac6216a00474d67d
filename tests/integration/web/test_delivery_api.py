"""The delivery figures through the API: ``GET /api/v1/accounts/{account}/delivery?days=N``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from web_sms import delivery_week
from web_world import WebWorld, web_world

DELIVERY = "/api/v1/accounts/{account}/delivery"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def counts(figures: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(figures[name] for name in ("sent", "delivered", "undelivered", "pending", "rate"))


def test_the_last_7_days_per_rule_and_in_total(web: WebWorld) -> None:
    before = datetime.now(UTC)
    delivery_week(web, before)
    answer = web.as_("acme-admin").get(DELIVERY.format(account="acme"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["account"], body["days"]) == ("acme", 7)
    since = datetime.fromisoformat(body["since"])
    assert before - timedelta(days=7) <= since <= datetime.now(UTC) - timedelta(days=7)
    # The 8-day-old SMS and globex's are not counted; "accepted" and no report at all are pending.
    assert [(rule["rule_id"], rule["rule_name"], *counts(rule)) for rule in body["rules"]] == [
        (1, "Missed call", 5, 2, 1, 2, pytest.approx(2 / 3)),
        (2, "Thanks", 1, 0, 1, 0, 0.0),
    ]
    assert counts(body["total"]) == (6, 2, 2, 2, 0.5)


def test_days_widens_the_window(web: WebWorld) -> None:
    delivery_week(web, datetime.now(UTC))
    body = web.as_("acme-viewer").get(DELIVERY.format(account="acme"), params={"days": 10}).json()
    assert body["days"] == 10
    assert counts(body["rules"][0]) == (6, 3, 1, 2, 0.75)
    assert counts(body["total"]) == (7, 3, 2, 2, 0.6)
    one_day = web.as_("acme-viewer").get(DELIVERY.format(account="acme"), params={"days": 1}).json()
    assert [(rule["rule_name"], rule["sent"]) for rule in one_day["rules"]] == [("Missed call", 1)]


@pytest.mark.parametrize("days", ["0", "91", "-1", "seven", "7.5"])
def test_days_out_of_range_is_422_naming_the_field(web: WebWorld, days: str) -> None:
    answer = web.as_("acme-admin").get(DELIVERY.format(account="acme"), params={"days": days})
    assert answer.status_code == 422
    assert [problem["field"] for problem in answer.json()["errors"]] == ["days"]


def test_nothing_sent_has_no_rules_and_no_rate(web: WebWorld) -> None:
    body = web.as_("acme-admin").get(DELIVERY.format(account="acme")).json()
    assert body["rules"] == []
    assert body["total"] == {"sent": 0, "delivered": 0, "undelivered": 0, "pending": 0, "rate": None}


def test_an_account_user_reads_only_their_own_account(web: WebWorld) -> None:
    delivery_week(web, datetime.now(UTC))
    for user in ("acme-admin", "acme-viewer"):
        answer = web.as_(user).get(DELIVERY.format(account="globex"))
        assert answer.status_code == 404, (user, answer.text)
        assert "Globex secret" not in answer.text
    globex = web.as_("root").get(DELIVERY.format(account="globex")).json()
    assert [(rule["rule_name"], *counts(rule)) for rule in globex["rules"]] == [("Globex secret", 1, 1, 0, 0, 1.0)]
    assert web.client.get(DELIVERY.format(account="acme")).status_code == 401
    assert web.as_("root").get(DELIVERY.format(account="nobody")).status_code == 404


def test_the_schema_documents_the_answer(web: WebWorld) -> None:
    schema = web.client.get("/api/openapi.json").json()
    route = schema["paths"][DELIVERY]["get"]
    [days] = [parameter for parameter in route["parameters"] if parameter["name"] == "days"]
    assert (days["in"], days["schema"]["minimum"], days["schema"]["maximum"], days["schema"]["default"]) == (
        "query",
        1,
        90,
        7,
    )
    answer = route["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/DeliveryOut"}
    assert set(schema["components"]["schemas"]["RuleDeliveryOut"]["required"]) >= {"rule_id", "rule_name", "rate"}
