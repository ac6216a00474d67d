"""The daemon's HTTP endpoint: ``/metrics`` (Prometheus text format) and ``/health`` (200 or 503 + JSON).

Served by aiohttp on the daemon's own event loop (aiohttp is already a dependency, for the HTTP
gateways): no thread, and a loop that hangs stops answering here too, as it stops feeding systemd's
watchdog. Nothing here names a secret: the bodies carry states, counts and exception class names.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from pbx_sms.config import MetricsSettings
from pbx_sms.daemon.metrics import DaemonCollector
from pbx_sms.daemon.probes import OutboxCounts, Probe, ProbeBusy

log = logging.getLogger(__name__)


class EndpointError(Exception):
    """The endpoint cannot listen where configured; the message says where and what to change."""


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    body: dict[str, Any] = field(default_factory=dict)


def database_problem(error: BaseException) -> str:
    """Why the database probe failed, in words without the driver's message (which may echo the URL)."""
    if isinstance(error, TimeoutError):
        return "did not answer in time"
    if isinstance(error, ProbeBusy):
        return str(error)
    return f"query failed ({type(error).__name__})"


def judge_health(
    database_error: str | None, ami: dict[str, Any], *, ami_enabled: bool, now_s: float, ami_down_max_s: float
) -> Health:
    """200 only while the database answers and (AMI on) the connection is up or down for less than the limit."""
    problems = []
    database = "ok" if database_error is None else f"unreachable: {database_error}"
    if database_error is not None:
        problems.append(f"database {database}")
    if not ami_enabled:
        ami_state = "disabled"
    elif ami.get("state") == "up" or ami.get("down_since") is None:
        ami_state = "up"
    else:
        down_s = max(now_s - float(ami["down_since"]), 0.0)
        ami_state = f"{ami.get('state', 'down')} for {down_s:.0f} s (limit {ami_down_max_s:g} s)"
        if down_s >= ami_down_max_s:
            problems.append(f"AMI connection not up for {down_s:.0f} s (limit {ami_down_max_s:g} s)")
    body: dict[str, Any] = {"status": "ok" if not problems else "failing", "database": database, "ami": ami_state}
    if problems:
        body["reason"] = "; ".join(problems)
    return Health(not problems, body)


async def listen(app: web.Application, settings: MetricsSettings) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    host, port = settings.host, settings.port
    try:
        # Bound here rather than by aiohttp: the error is ours to word, and the port is known.
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise EndpointError(
            f"metrics endpoint: cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(set PBX_SMS_METRICS_HOST/PBX_SMS_METRICS_PORT, or PBX_SMS_METRICS_ENABLED=false)"
        ) from None
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, int(sock.getsockname()[1])


class WaitingEndpoint:
    """The endpoint while start-up waits for the database: /health answers 503 saying what it waits for
    (rather than the port refusing connections), /metrics 503 (nothing to count yet)."""

    def __init__(self, settings: MetricsSettings, waiting_for: Callable[[], str]) -> None:
        self.settings = settings
        self._waiting_for = waiting_for
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner, self.port = await listen(app, self.settings)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _health(self, _request: web.Request) -> web.Response:
        body = {"status": "starting", "database": "not open yet", "reason": self._waiting_for()}
        return web.json_response(body, status=503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(status=503, text=f"starting: {self._waiting_for()}\n")


class Endpoint:
    def __init__(
        self,
        settings: MetricsSettings,
        registry: CollectorRegistry,
        collector: DaemonCollector,
        *,
        database_probe: Probe[bool],
        outbox_probe: Probe[OutboxCounts],
        ami_status: Callable[[], dict[str, Any]],
        ami_enabled: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._registry = registry
        self._collector = collector
        self._database_probe = database_probe
        self._outbox_probe = outbox_probe
        self._ami_status = ami_status
        self._ami_enabled = ami_enabled
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self._database_down = False
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        self._runner, self.port = await listen(app, self.settings)
        log.info("metrics and health on http://%s:%d/metrics and /health", self.settings.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _query_database(self, probe: Probe[Any]) -> tuple[Any, str | None]:
        try:
            value = await probe()
        except Exception as exc:
            if not self._database_down:
                log.warning("metrics: the database did not answer (%s)", database_problem(exc))
            self._database_down = True
            return None, database_problem(exc)
        if self._database_down:
            log.info("metrics: the database answers again")
        self._database_down = False
        return value, None

    async def _metrics(self, _request: web.Request) -> web.Response:
        counts, error = await self._query_database(self._outbox_probe)
        self._collector.outbox = counts
        self._collector.database_up = error is None
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _request: web.Request) -> web.Response:
        _answered, error = await self._query_database(self._database_probe)
        health = judge_health(
            error,
            self._ami_status(),
            ami_enabled=self._ami_enabled,
            now_s=self._clock(),
            ami_down_max_s=self.settings.health_ami_down_max_s,
        )
        return web.json_response(health.body, status=200 if health.ok else 503)
