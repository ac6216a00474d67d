"""The daemon's /metrics and /health over real HTTP, in process: a fake Asterisk replays the busy hour,
an HTTP SMS gateway on loopback takes the SMS, and the scraped counts must be the calls in the call log
and the SMS the gateway received (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ami_server import FakeAmiServer, load_recording_events, move_to_now
from conftest import empty_database
from daemon_ports import free_port_env
from http_server import LoopbackHttpServer
from paths import FIXTURES, ROOT
from ports import free_port
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, select
from sqlalchemy.engine import URL, make_url
from tcp_proxy import TcpProxy

from pbx_sms.config import load_settings
from pbx_sms.daemon.run import Daemon
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.storage.database import open_database

AMI_USER, AMI_SECRET, HTTP_TOKEN = "metrics-test", "ami-Secret-metrics-5d1e", "http-Token-metrics-a07c"
RULES = """\
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer, busy]}
    then: {sender: ACME, to: [other_party], text: "We missed your call, {other_party}.", delay_s: 0}
  - name: Thanks
    when: {direction: any, numbers: all, status: [answered]}
    then: {sender: ACME, to: [other_party], text: "Thanks!", delay_s: 0, min_interval_s: 3600}
"""
Samples = dict[str, list[tuple[dict[str, str], float]]]


def settings_env(database_url: str, ami_port: int, http_url: str, **extra: str) -> dict[str, str]:
    values = {
        "database_url": database_url,
        "ami_port": str(ami_port),
        "ami_username": AMI_USER,
        "ami_secret": AMI_SECRET,
        "ami_reconnect_min_s": "0.2",
        "ami_reconnect_max_s": "1",
        "gateway": "http",
        "http_url": http_url,
        "http_token": HTTP_TOKEN,
        "cdr_grace_s": "0.2",
        "outbox_poll_s": "0.2",
        "metrics_port": str(free_port()),
        "fastagi_port": "0",
    } | extra
    return {f"PBX_SMS_{key.upper()}": value for key, value in values.items()}


def import_rules(database_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pbx_sms.cli.main import app

    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    env = {"PBX_SMS_DATABASE_URL": database_url}
    for args in (["senders", "add", "ACME"], ["rules", "import", str(rules)]):
        result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output


class RunningDaemon:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.task = asyncio.create_task(daemon.run())
        self.session = aiohttp.ClientSession()

    @property
    def base(self) -> str:
        assert self.daemon.endpoint is not None and self.daemon.endpoint.port is not None
        return f"http://127.0.0.1:{self.daemon.endpoint.port}"

    async def listening(self) -> None:
        await wait_for(lambda: self.daemon.endpoint is not None and self.daemon.endpoint.port is not None, "listening")

    async def get(self, path: str) -> tuple[int, str]:
        async with self.session.get(self.base + path, timeout=aiohttp.ClientTimeout(total=10)) as response:
            return response.status, await response.text()

    async def scrape(self) -> tuple[str, Samples]:
        status, text = await self.get("/metrics")
        assert status == 200, text
        samples: Samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        return text, samples

    async def stop(self) -> None:
        self.daemon.stop()
        await asyncio.wait_for(self.task, 30)
        await self.session.close()


async def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            outcome = condition()
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover (the timeout raises first)


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(value for got, value in samples.get(name, []) if labels.items() <= got.items())


@pytest.fixture
def http_server() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer() as running:
        yield running


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmiServer]:
    async with FakeAmiServer(username=AMI_USER, secret=AMI_SECRET) as server:
        yield server


def assert_prometheus_conventions(text: str, samples: Samples) -> None:
    """pbx_sms_ prefix, _total counters, _seconds durations, no label value that is a number or phone number."""
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("pbx_sms_"), family.name
        if family.type == "counter":
            assert all(sample.name.endswith("_total") for sample in family.samples), family.name
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        assert not re.search(r"_(ms|millis|milliseconds|minutes|hours|s)$", family.name), family.name
    for name, series in samples.items():
        for labels, _value in series:
            for key, value in labels.items():
                if key == "le":
                    continue  # histogram bucket bounds are numbers by definition
                assert not re.search(r"\d{3,}", value), f"{name}{{{key}={value!r}}}: looks like a number or an id"
                assert re.fullmatch(r"[a-z_]*", value), f"{name}{{{key}={value!r}}}: not a fixed vocabulary word"


async def test_metrics_while_the_busy_hour_replays_match_the_call_log_and_the_sms_sent(
    database_url: str, tmp_path: Path, http_server: LoopbackHttpServer, ami: FakeAmiServer
) -> None:
    import_rules(database_url, tmp_path)
    settings = load_settings(None, settings_env(database_url, ami.port, http_server.url))
    running = RunningDaemon(Daemon(settings))
    view = create_engine(database_url)
    try:
        await running.listening()
        _text, before = await running.scrape()
        assert total(before, "pbx_sms_ami_up") in (0.0, 1.0)
        session = await ami.wait_sessions(1, 30)
        await wait_for(lambda: running.daemon.listener.connection.state.value == "up", "AMI up")
        blocks, _delta_s = move_to_now(load_recording_events(FIXTURES / "busy_hour.callcdr.ami"))
        await session.send_events(blocks)

        def settled() -> bool:
            with view.connect() as conn:
                calls = conn.execute(select(calls_table.c.processed_at)).all()
                waiting = select(outbox_table.c.id).where(outbox_table.c.status.in_(["queued", "sending"]))
                return len(calls) == 40 and all(row[0] for row in calls) and not conn.execute(waiting).all()

        await wait_for(settled, "every call recorded and every SMS sent", 60)
        # Outcomes are written in batches: the scrape that counts them comes after the flush.
        await wait_for(lambda: running.daemon.worker.counters.sent == len(http_server.requests), "outcomes counted")
        text, samples = await running.scrape()
        status, health = await running.get("/health")
    finally:
        await running.stop()
    with view.connect() as conn:
        calls = conn.execute(select(calls_table.c.direction, calls_table.c.status, calls_table.c.evidence)).all()
        outbox = conn.execute(select(outbox_table.c.status, outbox_table.c.reason)).all()
    view.dispose()

    assert (status, json.loads(health)) == (200, {"status": "ok", "database": "ok", "ami": "up"})
    assert_prometheus_conventions(text, samples)
    assert total(samples, "pbx_sms_ami_up") == 1.0
    assert total(samples, "pbx_sms_ami_events_read_total") + total(
        samples, "pbx_sms_ami_messages_discarded_total", kind="unwanted"
    ) == len(blocks)
    # Calls: the call log's, by direction, status and evidence.
    recorded = Counter((direction, status, evidence) for direction, status, evidence in calls)
    scraped = {
        (labels["direction"], labels["status"], labels["evidence"]): value
        for labels, value in samples["pbx_sms_calls_completed_total"]
    }
    assert scraped == {kind: float(count) for kind, count in recorded.items()}
    assert sum(scraped.values()) == 40
    # SMS: what the gateway received, the outbox's final states, the worker's attempts, the histograms.
    sent = len(http_server.requests)
    stored = Counter(outbox)
    assert sent == stored[("sent", None)] > 10
    assert total(samples, "pbx_sms_sms_attempts_total", outcome="sent") == sent
    assert total(samples, "pbx_sms_sms_last_24h", status="sent", reason="none") == sent
    suppressed = {reason: count for (state, reason), count in stored.items() if state == "suppressed"}
    assert suppressed, "the busy hour should suppress some SMS (min_interval, anonymous callers)"
    for reason, count in suppressed.items():
        assert total(samples, "pbx_sms_sms_last_24h", status="suppressed", reason=reason) == count
    assert total(samples, "pbx_sms_outbox_depth", status="queued") == 0
    assert total(samples, "pbx_sms_sms_send_duration_seconds_count") == sent
    assert total(samples, "pbx_sms_sms_send_lateness_seconds_count") == sent
    assert total(samples, "pbx_sms_gateway_errors_total") == 0
    assert total(samples, "pbx_sms_database_up") == 1.0
    for secret in (AMI_SECRET, HTTP_TOKEN):
        assert secret not in text and secret not in health


async def test_gateway_errors_are_counted_by_kind_and_failures_by_reason_kind(
    tmp_path: Path, http_server: LoopbackHttpServer, ami: FakeAmiServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'pbx-sms.db'}"
    import_rules(database_url, tmp_path)
    http_server.reply(400, {"error": "invalid number"})  # permanent: failed at once
    settings = load_settings(None, settings_env(database_url, ami.port, http_server.url))
    running = RunningDaemon(Daemon(settings))
    try:
        await running.listening()
        session = await ami.wait_sessions(1, 30)
        blocks, _delta_s = move_to_now(load_recording_events(FIXTURES / "in_noanswer.callcdr.ami"))
        await session.send_events(blocks)
        await wait_for(lambda: running.daemon.worker.counters.failed == 1, "the SMS failed")

        async def failure_counted() -> bool:
            _text, samples = await running.scrape()
            return total(samples, "pbx_sms_sms_last_24h", status="failed", reason="permanent") == 1

        await wait_for(failure_counted, "the failure in the outbox")
        _text, samples = await running.scrape()
    finally:
        await running.stop()
    assert total(samples, "pbx_sms_gateway_errors_total", kind="permanent") == 1
    assert total(samples, "pbx_sms_gateway_errors_total", kind="transient") == 0
    assert total(samples, "pbx_sms_sms_attempts_total", outcome="failed") == 1


async def test_health_fails_once_ami_is_down_longer_than_the_limit(
    tmp_path: Path, http_server: LoopbackHttpServer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'pbx-sms.db'}"
    ami = await FakeAmiServer(username=AMI_USER, secret=AMI_SECRET).start()
    settings = load_settings(None, settings_env(database_url, ami.port, http_server.url, health_ami_down_max_s="1"))
    running = RunningDaemon(Daemon(settings))
    try:
        await running.listening()
        await ami.wait_sessions(1, 30)
        await wait_for(lambda: running.daemon.listener.connection.state.value == "up", "AMI up")
        assert (await running.get("/health"))[0] == 200
        await ami.close()  # Asterisk goes away
        await wait_for(lambda: running.daemon.listener.connection.state.value != "up", "AMI down")
        status, body = await running.get("/health")
        assert status == 200, body  # down, but for less than the limit
        await asyncio.sleep(1.2)
        status, body = await running.get("/health")
        _text, samples = await running.scrape()
    finally:
        await running.stop()
    report = json.loads(body)
    assert status == 503
    assert report["status"] == "failing" and report["database"] == "ok"
    assert "AMI connection not up for" in report["reason"] and "limit 1 s" in report["reason"]
    assert total(samples, "pbx_sms_ami_up") == 0.0
    assert total(samples, "pbx_sms_ami_down_seconds") >= 1.0
    assert AMI_SECRET not in body


async def test_health_fails_and_the_outbox_series_go_absent_while_the_database_is_gone(
    http_server: LoopbackHttpServer, tmp_path: Path
) -> None:
    """PostgreSQL behind a proxy that is cut: /health says 503 with the reason, /metrics still answers."""
    with empty_database("postgresql", tmp_path) as schema_url:
        await _health_and_metrics_with_the_database_cut(make_url(schema_url), http_server)


async def _health_and_metrics_with_the_database_cut(upstream: URL, http_server: LoopbackHttpServer) -> None:
    proxy = TcpProxy("127.0.0.1", upstream.port or 5432).start()
    database_url = upstream.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    (await asyncio.to_thread(open_database, database_url)).close()
    settings = load_settings(None, settings_env(database_url, free_port(), http_server.url, ami_enabled="false"))
    running = RunningDaemon(await asyncio.to_thread(Daemon, settings))
    try:
        await running.listening()
        assert (await running.get("/health"))[0] == 200
        _text, samples = await running.scrape()
        assert "pbx_sms_outbox_depth" in samples
        proxy.cut()  # the database goes away: refused, open connections cut
        status, body = await running.get("/health")
        text, samples = await running.scrape()
    finally:
        proxy.restore()  # so the daemon's last heartbeat and shutdown find it again
        await running.stop()
        proxy.stop()
    report = json.loads(body)
    assert status == 503 and report["status"] == "failing", body
    assert report["database"].startswith("unreachable") and "database unreachable" in report["reason"]
    assert report["ami"] == "disabled"
    assert total(samples, "pbx_sms_database_up") == 0.0
    assert "pbx_sms_outbox_depth" not in samples and "pbx_sms_sms_last_24h" not in samples
    assert "pbx_sms_calls_completed_total" in text  # the daemon's own counters are still there


def test_the_metrics_endpoint_is_off_when_disabled(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "PBX_SMS_METRICS_ENABLED": "false",
            "PBX_SMS_FASTAGI_PORT": "0",
        },
    )
    daemon = Daemon(settings)
    try:
        assert daemon.endpoint is None
    finally:
        daemon.database.close()


def dashboard_metric_names() -> set[str]:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    expressions += [variable.get("query", "") for variable in dashboard["templating"]["list"]]
    assert len(expressions) > 10
    return {name for expr in expressions for name in re.findall(r"\bpbx_sms_[a-z0-9_]+", str(expr))}


def test_every_metric_the_grafana_dashboard_uses_is_one_the_daemon_exposes(tmp_path: Path) -> None:
    """Exposed names come from a real daemon's collector, with the counters parallel parts add (FastAGI,
    the two views of a call) present, and every per-send series observed once."""
    from prometheus_client import generate_latest

    from pbx_sms.daemon.probes import OutboxCounts

    daemon = Daemon(load_settings(None, {"PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"} | free_port_env()))
    try:
        details = daemon.status_details

        def with_parallel_counters() -> dict[str, Any]:
            report = details()
            report["fastagi"] = {"requests": 1, "recorded": 1, "refused": 0, "errors": 0}
            report["calls"]["views_disagreed"] = 0
            return report

        daemon.collector._details = with_parallel_counters
        daemon.collector.outbox = OutboxCounts({"queued": 1}, {("sent", "none"): 1})
        daemon.collector.database_up = True
        text = generate_latest(daemon.registry).decode()
    finally:
        daemon.database.close()
    exposed = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    # A counter with no series yet (no call recorded) is still declared: its name counts.
    exposed |= {f"{family.name}_total" for family in text_string_to_metric_families(text) if family.type == "counter"}
    unknown = sorted(dashboard_metric_names() - exposed)
    assert unknown == [], f"the dashboard uses metrics the daemon does not expose: {unknown}"


async def test_a_metrics_port_in_use_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    import socket

    from pbx_sms.daemon.endpoint import EndpointError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PBX_SMS_METRICS_PORT": str(port)}
        daemon = Daemon(load_settings(None, env | {"PBX_SMS_AMI_ENABLED": "false", "PBX_SMS_FASTAGI_PORT": "0"}))
        with pytest.raises(EndpointError) as raised:
            await daemon.run()
    message = str(raised.value)
    assert f"cannot listen on 127.0.0.1:{port}" in message
    assert "PBX_SMS_METRICS_PORT" in message and "PBX_SMS_METRICS_ENABLED=false" in message


def test_the_systemd_status_line_says_what_the_daemon_waits_for(tmp_path: Path) -> None:
    daemon = Daemon(load_settings(None, {"PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"} | free_port_env()))
    try:
        details = daemon.status_details()
        details["ami"] |= {"state": "down", "last_error": "cannot connect to 127.0.0.1:5038: Connection refused"}
        assert daemon.systemd_status(details) == (
            "running; waiting for Asterisk (AMI down: cannot connect to 127.0.0.1:5038: Connection refused); "
            "0 calls recorded, 0 SMS sent"
        )
        details["ami"]["state"] = "up"
        assert daemon.systemd_status(details).startswith("running; AMI up; 0 calls recorded")
    finally:
        daemon.database.close()


async def test_a_hanging_database_costs_a_scrape_its_outbox_series_within_the_bound_and_piles_up_nothing(
    tmp_path: Path,
) -> None:
    """The outbox look-up hangs (a database host that drops packets): each scrape still answers within the
    probe's bound, without the outbox series, and a second scrape does not start a second hung query."""
    import threading
    import time

    from pbx_sms.daemon.probes import OutboxCounts, Probe

    release = threading.Event()
    started: list[float] = []

    def hanging() -> OutboxCounts:
        started.append(time.monotonic())
        release.wait(30)
        return OutboxCounts({"queued": 0}, {})

    settings = load_settings(
        None,
        {
            "PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "PBX_SMS_AMI_ENABLED": "false",
            "PBX_SMS_METRICS_PORT": str(free_port()),
            "PBX_SMS_FASTAGI_PORT": "0",
        },
    )
    daemon = Daemon(settings)
    assert daemon.endpoint is not None
    daemon.endpoint._outbox_probe = Probe(hanging, timeout_s=0.5)
    running = RunningDaemon(daemon)
    try:
        await running.listening()
        began = time.monotonic()
        _text, first = await running.scrape()
        _text, second = await running.scrape()
        took_s = time.monotonic() - began
        release.set()
        await wait_for(lambda: not daemon.endpoint._outbox_probe._running, "the hung query returned")  # type: ignore[union-attr]
        _text, third = await running.scrape()
    finally:
        release.set()
        await running.stop()
    assert took_s < 5, "two scrapes must not wait for a hung database"
    assert len(started) == 2, "the second scrape must not start another query while the first hangs"
    for samples in (first, second):
        assert total(samples, "pbx_sms_database_up") == 0.0
        assert "pbx_sms_outbox_depth" not in samples
        assert "pbx_sms_sms_attempts_total" in samples
    assert total(third, "pbx_sms_database_up") == 1.0 and "pbx_sms_outbox_depth" in third
