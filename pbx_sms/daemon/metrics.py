"""The daemon's Prometheus metrics: one registry per daemon, read from the counters it already keeps.

Nothing is counted twice: at scrape time ``DaemonCollector`` turns ``Daemon.status_details()`` (the AMI
connection, the tracker, the recorder, intake, the worker, FastAGI when present), the calls recorded by
kind and the last outbox counts (a bounded database query, pbx_sms.daemon.probes) into metric families.
Only what no counter keeps is observed as it happens: each send's duration and lateness (histograms)
and the gateway's errors by kind, through the worker's observer hook (``SendMetrics``).

Conventions (checked by tests/integration/test_metrics.py): the ``pbx_sms_`` prefix, ``_total`` counters,
``_seconds`` durations, and label values from fixed vocabularies only, never a number, rule or call id.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pbx_sms.core.call import CompletedCall
from pbx_sms.daemon.probes import OutboxCounts
from pbx_sms.outbox.observe import SendAttempt

PREFIX = "pbx_sms_"
# Send latency: a local dongle answers in ms, an HTTP provider in 0.1-2 s, a timeout takes 10-30 s.
SEND_DURATION_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Lateness: well under a second when healthy; minutes to hours after an outage or a backlog.
LATENESS_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
CallKind = tuple[str, str, str]  # (direction, status, evidence)

# The *_created series (when each counter began) double the exposition and say what
# pbx_sms_start_time_seconds already says.
disable_created_metrics()  # type: ignore[no-untyped-call]


class CallCounts:
    """Calls newly recorded in the call log by this daemon, by (direction, status, evidence).

    Added to from the recorder's thread, read at scrape time on the event loop: hence the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Tally[CallKind] = Tally()

    def add(self, calls: Iterable[CompletedCall]) -> None:
        with self._lock:
            self._counts.update((call.direction, call.status, call.evidence) for call in calls)

    def snapshot(self) -> dict[CallKind, int]:
        with self._lock:
            return dict(self._counts)


class SendMetrics:
    """The worker's observer: what no counter keeps, observed as each send ends."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            f"{PREFIX}sms_send_duration_seconds",
            "How long the gateway took to answer one send attempt.",
            registry=registry,
            buckets=SEND_DURATION_BUCKETS_S,
        )
        self.lateness = Histogram(
            f"{PREFIX}sms_send_lateness_seconds",
            "How long after its due time an SMS send attempt started.",
            registry=registry,
            buckets=LATENESS_BUCKETS_S,
        )
        self.gateway_errors = Counter(
            f"{PREFIX}gateway_errors",
            "Send attempts the gateway did not accept, by kind (transient: retried; permanent: failed).",
            ["kind"],
            registry=registry,
        )
        # Present from the first scrape, so a rate over them is 0, not absent, until the first error.
        for kind in ("transient", "permanent"):
            self.gateway_errors.labels(kind=kind)

    def __call__(self, attempt: SendAttempt) -> None:
        self.duration.observe(max(attempt.duration_s, 0.0))
        self.lateness.observe(max(attempt.lateness_s, 0.0))
        if attempt.result != "sent":
            self.gateway_errors.labels(kind=attempt.result).inc()


def _counter(name: str, documentation: str, value: Any) -> CounterMetricFamily:
    return CounterMetricFamily(PREFIX + name, documentation, value=float(value or 0))


def _labelled_counter(
    name: str, documentation: str, labels: Sequence[str], values: Mapping[Any, Any]
) -> CounterMetricFamily:
    """``values``: label values (a tuple, in the order of ``labels``) → count."""
    family = CounterMetricFamily(PREFIX + name, documentation, labels=labels)
    for label_values, value in sorted(values.items()):
        family.add_metric(list(label_values), float(value or 0))
    return family


def _gauge(name: str, documentation: str, value: Any) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=float(value or 0))


class DaemonCollector(Collector):
    """Reads the daemon's counters when scraped; ``outbox`` is the last database look-up (None: it failed)."""

    def __init__(
        self,
        details: Callable[[], dict[str, Any]],
        calls: CallCounts,
        *,
        started_at_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._details = details
        self._calls = calls
        self._started_at_s = started_at_s
        self._clock = clock
        self.outbox: OutboxCounts | None = None
        self.database_up: bool | None = None

    def collect(self) -> Iterator[Metric]:
        details = self._details()
        yield _gauge("start_time_seconds", "When this daemon started (Unix time).", self._started_at_s)
        yield from self._ami(details["ami"])
        yield from self._call_families(details["calls"])
        yield _labelled_counter(
            "intake_errors",
            "Failures on the way from a completed call to queued SMS, by stage (each is retried).",
            ["stage"],
            {
                ("record",): details["calls"].get("record_errors", 0),
                ("process",): details["calls"].get("processing_errors", 0),
                ("loop",): details.get("intake_errors", 0),
            },
        )
        if "fastagi" in details:
            yield from self._fastagi(details["fastagi"])
        yield from self._worker(details["worker"])
        yield from self._database()

    def _ami(self, ami: dict[str, Any]) -> Iterator[Metric]:
        if ami.get("state") == "disabled":
            return
        yield _gauge("ami_up", "1 while the AMI connection is logged in, else 0.", ami.get("state") == "up")
        down_since = ami.get("down_since")
        down_s = 0.0 if down_since is None else max(self._clock() - down_since, 0.0)
        yield _gauge("ami_down_seconds", "How long the AMI connection has not been up (0 while up).", down_s)
        connects = int(ami.get("connects", 0))
        yield _counter("ami_connects", "Successful AMI logins.", connects)
        yield _counter(
            "ami_reconnects", "AMI logins after the first (each follows a lost connection).", max(connects - 1, 0)
        )
        yield _counter("ami_disconnects", "AMI connections lost after login.", ami.get("disconnects"))
        yield _counter("ami_login_failures", "AMI logins refused (wrong user or secret).", ami.get("auth_failures"))
        yield _counter("ami_events_read", "AMI events read and handed to the call tracker.", ami.get("events"))
        yield _labelled_counter(
            "ami_messages_discarded",
            "AMI messages thrown away unread: unwanted events, malformed blocks, oversized messages.",
            ["kind"],
            {
                ("unwanted",): ami.get("skipped_events", 0),
                ("malformed",): ami.get("malformed_messages", 0),
                ("oversized",): ami.get("oversized_messages", 0),
            },
        )

    def _call_families(self, calls: dict[str, Any]) -> Iterator[Metric]:
        yield _labelled_counter(
            "calls_completed",
            "Completed calls recorded in the call log by this daemon (each call once, whoever reported it).",
            ["direction", "status", "evidence"],
            self._calls.snapshot(),
        )
        yield _counter(
            "calls_dropped", "Calls the tracker gave up on (too old, too many open).", calls.get("dropped_calls")
        )
        yield _counter(
            "calls_not_recorded",
            "Completed calls the recorder could not write and gave up on.",
            calls.get("not_recorded"),
        )
        yield _counter(
            "calls_reported_twice", "Call reports for calls already in the call log.", calls.get("reported_twice")
        )
        yield _gauge("calls_open", "Calls in progress the tracker follows.", calls.get("open_calls"))
        yield _gauge(
            "calls_unrecorded", "Completed calls waiting to be written to the call log.", calls.get("unrecorded")
        )
        yield _labelled_counter(
            "ami_events_unusable",
            "AMI events the tracker could not use: unknown channel, malformed, a Cdr of no known call.",
            ["kind"],
            {
                ("unknown_channel",): calls.get("unknown_channel_events", 0),
                ("malformed",): calls.get("malformed_events", 0),
                ("orphan_cdr",): calls.get("orphan_cdrs", 0),
            },
        )
        if "views_disagreed" in calls:
            yield _counter(
                "calls_views_disagreed",
                "Calls that the AMI tracker and the hangup hook saw differently.",
                calls["views_disagreed"],
            )

    def _fastagi(self, fastagi: dict[str, Any]) -> Iterator[Metric]:
        yield _counter("fastagi_requests", "FastAGI requests received.", fastagi.get("requests"))
        yield _counter("fastagi_recorded", "FastAGI hangup reports recorded as calls.", fastagi.get("recorded"))
        yield _counter(
            "fastagi_refused", "FastAGI requests refused (source, secret, bad request).", fastagi.get("refused")
        )
        yield _counter("fastagi_errors", "FastAGI sessions that ended in an error.", fastagi.get("errors"))

    def _worker(self, worker: dict[str, Any]) -> Iterator[Metric]:
        yield _counter("outbox_claimed", "Due SMS this daemon's worker claimed to send.", worker.get("claimed"))
        yield _counter(
            "outbox_write_errors",
            "Failed outbox writes (claims, outcomes) the worker retried.",
            worker.get("write_errors"),
        )
        outcomes = {
            (name,): value
            for name, value in worker.items()
            if name not in ("claimed", "write_errors") and isinstance(value, int)
        }
        yield _labelled_counter(
            "sms_attempts",
            "SMS send attempts by this daemon's worker, by what came of them (sent, retried, failed, released).",
            ["outcome"],
            outcomes,
        )

    def _database(self) -> Iterator[Metric]:
        if self.database_up is not None:
            yield _gauge("database_up", "1 when the database answered this scrape's query in time.", self.database_up)
        if self.outbox is None:
            return  # this scrape's look-up failed: the series are absent, not stale or zero
        depth = GaugeMetricFamily(
            PREFIX + "outbox_depth", "SMS in the outbox not yet done with, by status.", labels=["status"]
        )
        for status, count in sorted(self.outbox.depth.items()):
            depth.add_metric([status], count)
        yield depth
        final = GaugeMetricFamily(
            PREFIX + "sms_last_24h",
            "SMS queued in the last 24 hours and done with, by final status and reason kind.",
            labels=["status", "reason"],
        )
        for (status, reason), count in sorted(self.outbox.final.items()):
            final.add_metric([status, reason], count)
        yield final
