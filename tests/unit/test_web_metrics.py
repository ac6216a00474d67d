"""The web process's metric families and its collector, without a database (pbx_sms/web/metrics.py)."""

from __future__ import annotations

import logging
import threading

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.storage.delivery_reports import COUNTED_DELIVERY_STATUSES, counted_as
from pbx_sms.web.metrics import DeliveryCollector, DeliveryScrape, delivery_families

FIGURES = DeliveryScrape({"delivered": 5, "unknown": 2}, reports_last_24h=4)


def samples_of(collector: DeliveryCollector) -> dict[tuple[str, str | None], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("status")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(
    ("stored", "counted"),
    [
        (None, DeliveryStatus.UNKNOWN),
        ("queued", DeliveryStatus.UNKNOWN),
        ("sending", DeliveryStatus.UNKNOWN),
        ("sent", DeliveryStatus.UNKNOWN),
        ("accepted", DeliveryStatus.UNKNOWN),
        ("delivered", DeliveryStatus.DELIVERED),
        ("undelivered", DeliveryStatus.UNDELIVERED),
        ("expired", DeliveryStatus.EXPIRED),
        ("rejected", DeliveryStatus.REJECTED),
    ],
)
def test_only_a_final_report_gives_a_status_other_than_unknown(stored: str | None, counted: DeliveryStatus) -> None:
    assert counted_as(stored) is counted


def test_the_counted_statuses_are_the_finals_and_unknown() -> None:
    assert [status.value for status in COUNTED_DELIVERY_STATUSES] == [
        "delivered",
        "undelivered",
        "expired",
        "rejected",
        "unknown",
    ]


def test_every_status_is_a_series_missing_ones_0() -> None:
    samples = samples_of(DeliveryCollector(lambda: FIGURES))
    assert samples == {
        ("pbx_sms_database_up", None): 1,
        ("pbx_sms_sms_delivery_last_7d", "delivered"): 5,
        ("pbx_sms_sms_delivery_last_7d", "undelivered"): 0,
        ("pbx_sms_sms_delivery_last_7d", "expired"): 0,
        ("pbx_sms_sms_delivery_last_7d", "rejected"): 0,
        ("pbx_sms_sms_delivery_last_7d", "unknown"): 2,
        ("pbx_sms_delivery_reports_last_24h", None): 4,
    }


def test_a_status_outside_the_vocabulary_never_becomes_a_label() -> None:
    figures = DeliveryScrape({"delivered": 1, "+48601000001": 9}, reports_last_24h=0)
    families = list(delivery_families(figures))
    labels = {sample.labels.get("status") for family in families for sample in family.samples}
    assert labels == {None, *(status.value for status in COUNTED_DELIVERY_STATUSES)}


def test_a_failing_read_is_database_up_0_logged_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    failing = True

    def read() -> DeliveryScrape:
        if failing:
            raise ConnectionRefusedError("postgresql://pbx:hunter2@db/pbx refused")
        return FIGURES

    collector = DeliveryCollector(read)
    with caplog.at_level(logging.INFO, logger="pbx_sms.web.metrics"):
        assert samples_of(collector) == {("pbx_sms_database_up", None): 0}
        assert samples_of(collector) == {("pbx_sms_database_up", None): 0}
        failing = False
        assert samples_of(collector)[("pbx_sms_database_up", None)] == 1
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "metrics: the database did not answer: query failed (ConnectionRefusedError)",
        "metrics: the database answers again",
    ]


def test_a_scrape_meeting_a_query_still_running_does_not_wait_for_it() -> None:
    started, release = threading.Event(), threading.Event()

    def hanging_read() -> DeliveryScrape:
        started.set()
        release.wait(10)
        return FIGURES

    collector = DeliveryCollector(hanging_read)
    first: list[dict[tuple[str, str | None], float]] = []
    hung = threading.Thread(target=lambda: first.append(samples_of(collector)))
    hung.start()
    try:
        assert started.wait(10)
        assert samples_of(collector) == {("pbx_sms_database_up", None): 0}
    finally:
        release.set()
        hung.join(10)
    assert first[0][("pbx_sms_database_up", None)] == 1
    assert samples_of(collector)[("pbx_sms_database_up", None)] == 1  # the next one queries again
