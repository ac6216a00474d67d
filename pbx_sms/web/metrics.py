"""``GET /metrics`` of `pbx-sms web`: delivery figures for Prometheus, read from the database when scraped.

The daemon's /metrics (pbx_sms.daemon.metrics) counts what the daemon does; these are the providers'
delivery reports, which reach the web process, so the web process exposes them. Same conventions: the
``pbx_sms_`` prefix, label values from fixed vocabularies only (never a number, rule or call id).

The route is an operator's (``Resource.STATUS``): unlike the daemon's loopback port, the web process is
reachable from outside, and the figures are every account's traffic. Prometheus sends an operator's API
token (``authorization: {credentials: TOKEN}`` in its scrape config).

Each app has its own ``CollectorRegistry`` with one ``DeliveryCollector``, which queries the database at
scrape time: a window of the SMS log (7 days of sends, a day of reports), never the whole log, with a
statement timeout on PostgreSQL, and at most one query in flight (a scrape meeting a hung one does not
wait for it). A failed or skipped query leaves the delivery series out of that scrape and sets
``pbx_sms_database_up`` to 0: the scrape itself always answers 200.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pbx_sms.core.access import Access, Resource
from pbx_sms.daemon.endpoint import database_problem
from pbx_sms.db.engine import Database, limit_statement_time
from pbx_sms.storage.delivery_reports import COUNTED_DELIVERY_STATUSES, delivery_counts, reports_received_since
from pbx_sms.web.api import ERROR_RESPONSES
from pbx_sms.web.context import WebContext
from pbx_sms.web.errors import METRICS_PATH
from pbx_sms.web.guard import Guard, Scope

log = logging.getLogger(__name__)

PREFIX = "pbx_sms_"
SENT_WINDOW = timedelta(days=7)
REPORTS_WINDOW = timedelta(hours=24)
# Prometheus's default scrape timeout is 10 s: a slow database costs the series, not the scrape.
QUERY_TIMEOUT_S = 2.0
REGISTRY_STATE = "metrics_registry"


@dataclass(frozen=True, slots=True)
class DeliveryScrape:
    # Delivery status (COUNTED_DELIVERY_STATUSES) → SMS sent in SENT_WINDOW.
    sent_by_delivery: Mapping[str, int]
    reports_last_24h: int


def read_delivery_scrape(database: Database, now: datetime, timeout_s: float = QUERY_TIMEOUT_S) -> DeliveryScrape:
    with database.session() as session:
        limit_statement_time(session.connection(), timeout_s)
        return DeliveryScrape(
            sent_by_delivery=delivery_counts(session, now - SENT_WINDOW),
            reports_last_24h=reports_received_since(session, now - REPORTS_WINDOW),
        )


def delivery_families(figures: DeliveryScrape | None) -> Iterator[Metric]:
    """The metric families of one scrape; ``figures`` None: the database did not answer."""
    yield GaugeMetricFamily(
        PREFIX + "database_up", "1 when the database answered this scrape's query in time.", value=figures is not None
    )
    if figures is None:
        return  # absent, not zero: a dashboard then shows a gap, not a sudden drop to no traffic
    sent = GaugeMetricFamily(
        PREFIX + "sms_delivery_last_7d",
        "SMS sent in the last 7 days, by delivery status (unknown: no final delivery report yet).",
        labels=["status"],
    )
    for status in COUNTED_DELIVERY_STATUSES:  # only these: a label value never comes from the database
        sent.add_metric([status.value], figures.sent_by_delivery.get(status.value, 0))
    yield sent
    yield GaugeMetricFamily(
        PREFIX + "delivery_reports_last_24h",
        "Delivery reports received in the last 24 hours that set a message's delivery status.",
        value=figures.reports_last_24h,
    )


class DeliveryCollector(Collector):
    """Reads the delivery figures each time the registry is collected (``read``: one bounded query)."""

    def __init__(self, read: Callable[[], DeliveryScrape]) -> None:
        self._read = read
        self._in_flight = threading.Lock()
        self._database_down = False

    def collect(self) -> Iterator[Metric]:
        yield from delivery_families(self._figures())

    def _figures(self) -> DeliveryScrape | None:
        if not self._in_flight.acquire(blocking=False):
            self._went_down("the previous scrape's query has not returned")
            return None
        try:
            figures = self._read()
        except Exception as exc:  # any failure of the database: this scrape has no delivery series
            self._went_down(database_problem(exc))
            return None
        finally:
            self._in_flight.release()
        if self._database_down:
            log.info("metrics: the database answers again")
        self._database_down = False
        return figures

    def _went_down(self, problem: str) -> None:
        if not self._database_down:  # once per outage, not once per scrape
            log.warning("metrics: the database did not answer: %s", problem)
        self._database_down = True


def metrics_registry(context: WebContext) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DeliveryCollector(lambda: read_delivery_scrape(context.database, context.clock())))
    return registry


router = APIRouter(tags=["metrics"], responses=ERROR_RESPONSES)


@router.get(
    METRICS_PATH,
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def read_metrics(request: Request, _scope: Annotated[Scope, Depends(Guard(Resource.STATUS, Access.READ))]) -> Response:
    """Delivery figures of every account for Prometheus (operator): SMS sent in the last 7 days by delivery
    status, delivery reports of the last 24 hours, whether the database answered."""
    registry: CollectorRegistry = getattr(request.app.state, REGISTRY_STATE)
    # A sync route: FastAPI runs it in its thread pool, so the collector's query never blocks the loop.
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def install_metrics(app: FastAPI, context: WebContext) -> None:
    """``GET /metrics`` with the app's own registry, unless ``PBX_SMS_WEB_METRICS_ENABLED=false`` (then 404)."""
    if not context.settings.web.metrics_enabled:
        return
    setattr(app.state, REGISTRY_STATE, metrics_registry(context))
    app.include_router(router)
