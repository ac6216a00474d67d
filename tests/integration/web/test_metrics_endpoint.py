"""``GET /metrics`` of `pbx-sms web` through the app, on SQLite and PostgreSQL: delivery counts, access,
a failing database, the setting that turns it off."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from conftest import empty_database
from fastapi.testclient import TestClient
from ports import free_port
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from web_sms import delivery_report, mark_sent, queue_sms
from web_world import PASSWORD, WebWorld, web_world

from pbx_sms.config.models import Settings, WebSettings
from pbx_sms.db.engine import Database, limit_statement_time, make_engine
from pbx_sms.web.metrics import DeliveryCollector, delivery_families, read_delivery_scrape

# Far from the real time on purpose: rows inside the app's 7-day window are outside the real clock's,
# and the other way round, so counts that come out right show the app's clock was used.
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=40)
METRICS = "/metrics"
STATUSES = ("delivered", "undelivered", "expired", "rejected", "unknown")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url, clock=lambda: NOW)


def sent_sms(web: WebWorld, account: str, message_id: str, sent_at: datetime, status: str = "sent") -> None:
    """An SMS queued before ``sent_at`` whose last attempt (the send) was at ``sent_at``."""
    mark_sent(web, queue_sms(web, account, at=sent_at - timedelta(minutes=5)), "smsapi", message_id, sent_at, status)


def scrape(client: TestClient) -> Samples:
    answer = client.get(METRICS)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert answer.headers["cache-control"] == "no-store"
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def delivery(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["status"]: value
        for (name, labels), value in samples.items()
        if name == "pbx_sms_sms_delivery_last_7d"
    }


@dataclass(frozen=True)
class Seeded:
    delivery: dict[str, float]
    reports_last_24h: float


def seed(web: WebWorld) -> Seeded:
    hour = timedelta(hours=1)
    sent_sms(web, "acme", "d1", NOW - hour)
    delivery_report(web, "d1", "sent", NOW - 55 * timedelta(minutes=1))
    delivery_report(web, "d1", "delivered", NOW - 50 * timedelta(minutes=1))
    delivery_report(web, "d1", "delivered", NOW - 10 * timedelta(minutes=1))  # a duplicate: changes nothing
    sent_sms(web, "acme", "d2", NOW - 2 * timedelta(days=1))
    delivery_report(web, "d2", "delivered", NOW - 2 * timedelta(days=1) + hour)  # not in the last 24 h
    sent_sms(web, "globex", "u1", NOW - 3 * hour)
    delivery_report(web, "u1", "undelivered", NOW - 2 * hour)
    sent_sms(web, "acme", "e1", NOW - 6 * timedelta(days=1))
    delivery_report(web, "e1", "expired", NOW - 2 * hour)
    sent_sms(web, "globex", "r1", NOW - 4 * hour)
    delivery_report(web, "r1", "rejected", NOW - 3 * hour)
    sent_sms(web, "acme", "n1", NOW - 5 * hour)  # no report at all: unknown
    sent_sms(web, "acme", "i1", NOW - 5 * hour)
    delivery_report(web, "i1", "sent", NOW - 4 * hour)  # only an intermediate report: unknown
    sent_sms(web, "globex", "a1", NOW - 5 * hour)
    delivery_report(web, "a1", "accepted", NOW - 4 * hour)  # likewise
    # Sent 8 days ago: outside the window, its report too.
    sent_sms(web, "acme", "old", NOW - 8 * timedelta(days=1))
    delivery_report(web, "old", "delivered", NOW - 8 * timedelta(days=1) + hour)
    # Not sent (failed): not counted, whatever a report says.
    sent_sms(web, "acme", "f1", NOW - hour, status="failed")
    delivery_report(web, "f1", "delivered", NOW - hour)
    # A report of another gateway with a sent SMS's id: not that SMS's, but a report received.
    delivery_report(web, "n1", "undelivered", NOW - hour, gateway="twilio")
    # A report of no SMS (yet): received all the same.
    delivery_report(web, "nobody", "delivered", NOW - hour)
    # Received in the last 24 h: d1, u1, e1, r1, i1, a1, f1, twilio n1, nobody.
    return Seeded({"delivered": 2, "undelivered": 1, "expired": 1, "rejected": 1, "unknown": 3}, 9)


def test_an_operator_scrapes_sms_of_the_last_7_days_by_delivery_status(web: WebWorld) -> None:
    seeded = seed(web)
    samples = scrape(web.as_("root"))
    assert delivery(samples) == seeded.delivery
    assert samples[("pbx_sms_delivery_reports_last_24h", ())] == seeded.reports_last_24h
    assert samples[("pbx_sms_database_up", ())] == 1


def test_every_status_is_present_with_0_before_any_sms(web: WebWorld) -> None:
    samples = scrape(web.as_("root"))
    assert delivery(samples) == dict.fromkeys(STATUSES, 0)
    assert samples[("pbx_sms_delivery_reports_last_24h", ())] == 0


def test_names_and_labels_follow_the_daemons_conventions(web: WebWorld) -> None:
    seed(web)
    samples = scrape(web.as_("root"))
    assert {name for name, _labels in samples} == {
        "pbx_sms_sms_delivery_last_7d",
        "pbx_sms_delivery_reports_last_24h",
        "pbx_sms_database_up",
    }
    # Label values from the fixed vocabulary only: never a message id, a number, an account.
    assert {value for _name, labels in samples for _key, value in labels} == set(STATUSES)


def test_an_operators_browser_session_may_scrape(web: WebWorld) -> None:
    browser = TestClient(web.client.app, raise_server_exceptions=False)
    assert browser.post("/api/v1/session", json={"user": "root", "password": PASSWORD}).status_code == 200
    assert scrape(browser)[("pbx_sms_database_up", ())] == 1


@pytest.mark.parametrize("user", ["acme-admin", "acme-viewer"])
def test_an_accounts_users_get_403(web: WebWorld, user: str) -> None:
    answer = web.as_(user).get(METRICS)
    assert answer.status_code == 403
    assert answer.json()["detail"].startswith(f"{user.split('-')[1]}: may not read status")
    assert "pbx_sms_" not in answer.text


def test_without_credentials_401_not_a_redirect_to_the_login_page(web: WebWorld) -> None:
    answer = web.client.get(METRICS, follow_redirects=False)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "pbx_sms_" not in answer.text


def test_a_wrong_token_gets_401(web: WebWorld) -> None:
    answer = web.client.get(METRICS, headers={"Authorization": "Bearer not-a-token"})
    assert answer.status_code == 401


def test_a_failing_query_is_database_up_0_without_the_delivery_series(
    web: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    seed(web)
    client = web.as_("root")
    assert scrape(client)[("pbx_sms_database_up", ())] == 1
    with web.database.write_session() as session:
        session.execute(text("DROP TABLE delivery_reports"))  # the guard's tables still answer
    with caplog.at_level(logging.WARNING, logger="pbx_sms.web.metrics"):
        first, second = scrape(client), scrape(client)
    assert first == second == {("pbx_sms_database_up", ()): 0}
    warnings = [record.getMessage() for record in caplog.records if record.name == "pbx_sms.web.metrics"]
    assert len(warnings) == 1, warnings  # once per outage, not once per scrape
    assert warnings[0].startswith("metrics: the database did not answer: query failed (")
    assert web.settings.database_url.split("///")[-1] not in warnings[0]


def test_metrics_can_be_turned_off(database_url: str) -> None:
    settings = Settings(database_url=database_url, web=WebSettings(metrics_enabled=False))
    for web in web_world(database_url, settings=settings, clock=lambda: NOW):
        assert web.as_("root").get(METRICS).status_code == 404
        assert web.as_("root").get("/api/v1/me").status_code == 200


def test_a_database_that_refuses_connections_is_database_up_0() -> None:
    database = Database(make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/test"))
    try:
        collector = DeliveryCollector(lambda: read_delivery_scrape(database, NOW))
        families = list(collector.collect())
    finally:
        database.close()
    assert [(family.name, [sample.value for sample in family.samples]) for family in families] == [
        ("pbx_sms_database_up", [0.0])
    ]
    assert [family.name for family in delivery_families(None)] == ["pbx_sms_database_up"]


def test_postgresql_stops_a_statement_past_the_limit(tmp_path_factory: pytest.TempPathFactory) -> None:
    with empty_database("postgresql", tmp_path_factory.mktemp("pg")) as url:
        database = Database(make_engine(url))
        try:
            with pytest.raises(OperationalError, match="statement timeout"), database.session() as session:
                limit_statement_time(session.connection(), 0.05)
                session.execute(text("SELECT pg_sleep(2)"))
        finally:
            database.close()
