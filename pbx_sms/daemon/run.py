"""`pbx-sms run`: the AMI listener, the call intake and the outbox worker in one asyncio process.

Calls in: the listener hands each completed call to the recorder, which writes them to the call log
in batches (pbx_sms.intake.recorder); matching the rules and queueing SMS then runs from the call
log's unprocessed rows, so a crash between the two steps loses nothing.

Shutdown: the first SIGTERM/SIGINT stops the listener (calls already complete are still recorded and
processed), then the worker (no new claims, in-flight sends finish or are handed back); a second signal aborts
at once and leaves the leases of unfinished sends to expire, so a restart sends them again under
the same idempotency key.

Every task runs under one TaskSupervisor (pbx_sms.tasks): a failure is logged and counted
(`status`: tasks), and the task restarted, or, for the listener and the worker (not safe to restart
in place), the daemon stops as above and `pbx-sms run` exits 1 with one line naming the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry

from pbx_sms.ami.listener import AmiListener
from pbx_sms.ami.status import ConnectionState
from pbx_sms.config import Settings
from pbx_sms.core.call import CompletedCall
from pbx_sms.core.clock import utc_now
from pbx_sms.daemon.endpoint import Endpoint, WaitingEndpoint
from pbx_sms.daemon.metrics import CallCounts, DaemonCollector, SendMetrics
from pbx_sms.daemon.probes import Probe, database_answers, outbox_counts
from pbx_sms.daemon.sd_notify import Notifier
from pbx_sms.daemon.startup import open_database_when_up
from pbx_sms.daemon.status import HEARTBEAT_INTERVAL_S, instance_name, write_heartbeat
from pbx_sms.db.engine import Database
from pbx_sms.db.url import safe_url
from pbx_sms.fastagi import FastAgiCounters, FastAgiServer
from pbx_sms.gateways.registry import create_gateway
from pbx_sms.intake.recorder import CallRecorder
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.wakeup import listen_for_new_rows
from pbx_sms.outbox.worker import OutboxWorker, gateway_is_local
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database_from_settings
from pbx_sms.tasks import TaskFailed, TaskSupervisor

log = logging.getLogger("pbx_sms.daemon")

# Calls other processes recorded (the AGI hook) are seen this often; the daemon's own at once.
PENDING_CALLS_POLL_S = 1.0
PROCESS_BATCH_CALLS = 100


class Daemon:
    def __init__(self, settings: Settings, database: Database | None = None, notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.notifier = notifier or Notifier({})
        self.database = database or open_database_from_settings(settings)
        self.gateway = create_gateway(settings)
        engine = self.database.engine
        outbox = SqlOutbox(engine)
        # Per daemon, not prometheus-client's global registry: tests run several daemons in one process.
        self.registry = CollectorRegistry()
        self.call_counts = CallCounts()
        listener = partial(listen_for_new_rows, engine.url) if engine.dialect.name == "postgresql" else None
        self.worker = OutboxWorker(
            outbox,
            self.gateway,
            WorkerConfig.from_settings(settings),
            listener=listener,
            pbx=settings.pbx_name,
            observer=SendMetrics(self.registry),
        )
        self.intake = CallIntake(
            self.database,
            outbox,
            ConfigCache(self.database),
            pbx=settings.pbx_name,
            local_gateway=gateway_is_local(self.gateway),
            internal_max_digits=settings.tracking.internal_max_digits,
            on_queued=self.worker.wake,
            hook_wait_s=settings.tracking.hook_wait_s,
            better_view_possible=self._ami_is_up,
        )
        self._calls_recorded = asyncio.Event()
        self.recorder = CallRecorder(self._record_calls, self._calls_recorded.set)
        self.supervisor = TaskSupervisor(self._task_failed)
        self.listener = AmiListener.from_settings(settings, self._on_call, self.supervisor)
        # The dialplan's hangup hook, into the same recorder as the listener's calls.
        self.fastagi = (
            FastAgiServer.from_settings(settings, partial(self.recorder.add, source="agi"))
            if settings.fastagi.enabled
            else None
        )
        self.instance = instance_name()
        self.started_at = utc_now()
        self.collector = DaemonCollector(
            self.status_details, self.call_counts, started_at_s=self.started_at.timestamp()
        )
        self.registry.register(self.collector)
        self.endpoint = (
            Endpoint(
                settings.metrics,
                self.registry,
                self.collector,
                database_probe=Probe(partial(database_answers, engine)),
                outbox_probe=Probe(lambda: outbox_counts(engine, utc_now())),
                ami_status=lambda: self.status_details()["ami"],
                ami_enabled=settings.ami.enabled,
            )
            if settings.metrics.enabled
            else None
        )
        self._stopping = asyncio.Event()
        # Set once the recorder has written the last call: processing then finishes and returns.
        self._recording_done = False
        self.intake_errors = 0

    # --- calls in ------------------------------------------------------------------------------

    def _ami_is_up(self) -> bool:
        """Whether the tracker's view of a call the hook reported can still come (AMI on and connected)."""
        return self.settings.ami.enabled and self.listener.status.connection.state == ConnectionState.UP

    async def _on_call(self, call: CompletedCall) -> None:
        self.recorder.add(call, "ami")

    def _record_calls(self, calls: Sequence[CompletedCall], source: str) -> list[CompletedCall]:
        """Record calls in the call log (in the recorder's thread), counting the new ones for the metrics."""
        new = self.intake.record(calls, source=source)
        self.call_counts.add(new)
        return new

    async def _process_recorded_calls(self) -> None:
        """Match and queue the recorded calls: the recorder's (woken at once), the AGI hook's, and
        those an earlier run recorded but did not finish. Returns once recording is done and the
        call log has nothing left to process."""
        while True:
            finishing = self._recording_done
            try:
                # A full batch processed: there may be more; anything less waits for the next wake-up.
                while await asyncio.to_thread(self.intake.process_pending, PROCESS_BATCH_CALLS) == PROCESS_BATCH_CALLS:
                    pass
            except Exception:
                self.intake_errors += 1
                log.exception("processing recorded calls failed; trying again")
            if finishing:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PENDING_CALLS_POLL_S):
                    await self._calls_recorded.wait()
            self._calls_recorded.clear()

    # --- status --------------------------------------------------------------------------------

    def status_details(self) -> dict[str, Any]:
        listener = self.listener.status.to_json()
        ami = listener.pop("connection")
        if not self.settings.ami.enabled:
            ami = {"state": "disabled", "last_error": None}
        return {
            "ami": ami,
            "calls": {
                **listener,
                "recorded": self.intake.calls_recorded,
                "unrecorded": self.recorder.unrecorded,
                "record_errors": self.recorder.record_errors,
                "not_recorded": self.recorder.dropped,
                "longest_unrecorded_s": round(self.recorder.max_wait_s, 4),
                "reported_twice": self.intake.duplicate_reports,
                "views_disagreed": self.intake.views_disagreed,
                "views_replaced": self.intake.views_replaced,
                "processing_errors": self.intake.processing_errors,
            },
            "worker": vars(self.worker.counters).copy(),
            "gateway": self.gateway.name,
            "intake_errors": self.intake_errors,
            "tasks": self.supervisor.counters(),
            "fastagi": (self.fastagi.counters if self.fastagi else FastAgiCounters()).to_json(),
        }

    async def _write_heartbeat(self, stopped: bool = False) -> None:
        details = self.status_details()
        try:
            await asyncio.to_thread(
                write_heartbeat,
                self.database.engine,
                self.instance,
                self.settings.pbx_name,
                self.started_at,
                str(details["ami"]["state"]),
                details,
                utc_now(),
                stopped,
            )
        except Exception as exc:
            log.warning("writing the status heartbeat failed: %s", exc)
            if not self._stopping.is_set():
                self.notifier.status(f"running; the database does not answer ({type(exc).__name__})")
            return
        if not self._stopping.is_set():  # STOPPING=1 has said it all
            self.notifier.status(self.systemd_status(details))

    def systemd_status(self, details: dict[str, Any]) -> str:
        """The STATUS= line: what the daemon waits for, or that it runs."""
        ami = details["ami"]
        if ami["state"] == "disabled":
            calls = "AMI disabled"
        elif ami["state"] == "up":
            calls = "AMI up"
        else:
            calls = f"waiting for Asterisk (AMI {ami['state']}: {ami.get('last_error') or 'connecting'})"
        worker = details["worker"]
        return f"running; {calls}; {details['calls']['recorded']} calls recorded, {worker['sent']} SMS sent"

    async def _heartbeat(self) -> None:
        while not self._stopping.is_set():
            await self._write_heartbeat()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEARTBEAT_INTERVAL_S):
                    await self._stopping.wait()

    # --- lifecycle -----------------------------------------------------------------------------

    def _task_failed(self, failure: TaskFailed) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stopping.is_set():
            log.info("stopping: no new calls; finishing in-flight SMS (signal again to quit at once)")
            self.notifier.stopping("stopping: finishing in-flight SMS")
        self._stopping.set()
        self.listener.stop()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if self._stopping.is_set():
                self.worker.abort()
            else:
                self.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)

    async def run(self) -> None:
        log.info(
            "pbx-sms starting: database %s, gateway %s, AMI %s@%s:%d%s",
            safe_url(self.database.url),
            self.gateway.name,
            self.settings.ami.username,
            self.settings.ami.host,
            self.settings.ami.port,
            "" if self.settings.ami.enabled else " (disabled)",
        )
        try:
            if self.endpoint is not None:
                await self.endpoint.start()
            if self.fastagi is not None:
                await self.fastagi.start()
        except BaseException:
            if self.endpoint is not None:
                await self.endpoint.close()
            await self.gateway.close()
            self.database.close()
            raise
        start = self.supervisor.start
        worker = start("outbox-worker", self.worker.run, restart=False)
        recorder = start("call-recorder", self.recorder.run)
        processing = start("call-processing", self._process_recorded_calls)
        background = [start("heartbeat", self._heartbeat)]
        listener: asyncio.Task[object] | asyncio.Task[None]
        if self.settings.ami.enabled:
            listener = start("ami-listener", self.listener.run, restart=False)
        else:
            log.info("AMI listener disabled (PBX_SMS_AMI_ENABLED=false): calls come from the AGI hook only")
            listener = asyncio.create_task(self._stopping.wait(), name="ami-disabled")
        self.notifier.ready(self.systemd_status(self.status_details()))
        try:
            # The listener returns only when stopped; the worker when stopped, aborted or crashed.
            await asyncio.wait({listener, worker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Whatever ended first, stop and await both (listener first: its completed calls are still
            # recorded and reach the outbox), so the database and gateway never close under a running worker.
            # FastAGI before both: the calls it handed over are recorded like the listener's.
            if self.fastagi is not None:
                await self.fastagi.stop()
            self.stop()
            await asyncio.wait({listener})
            self.recorder.stop()
            await asyncio.wait({recorder})
            self._recording_done = True
            self._calls_recorded.set()
            await asyncio.wait({processing})
            self.worker.stop()
            await asyncio.wait({worker})
            self._stopping.set()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._write_heartbeat(stopped=True)
            if self.endpoint is not None:
                await self.endpoint.close()
            await self.gateway.close()
            self.database.close()
            log.info("pbx-sms stopped: %s; worker %s", self.intake_summary(), self.worker.counters)
        if self.supervisor.fatal is not None:
            raise self.supervisor.fatal

    def intake_summary(self) -> str:
        status = self.listener.status
        return (
            f"calls completed={status.completed_calls} recorded={self.intake.calls_recorded} "
            f"dropped={status.dropped_calls} reported_twice={self.intake.duplicate_reports}"
        )


async def run_daemon(settings: Settings, notifier: Notifier | None = None) -> None:
    """`pbx-sms run`: wait for the database, then run until stopped, systemd told and its watchdog fed throughout."""
    notifier = notifier or Notifier()
    watchdog = asyncio.create_task(notifier.feed_watchdog(), name="systemd-watchdog")
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        waiting = (
            WaitingEndpoint(settings.metrics, lambda: notifier.last_status or "starting")
            if settings.metrics.enabled
            else None
        )
        if waiting is not None:
            await waiting.start()
        try:
            database = await open_database_when_up(settings, notifier, stop)
        finally:
            if waiting is not None:
                await waiting.close()
        if database is None:
            return
        try:
            daemon = Daemon(settings, database, notifier)
        except BaseException:
            database.close()
            raise
        daemon.install_signal_handlers()
        await daemon.run()
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
