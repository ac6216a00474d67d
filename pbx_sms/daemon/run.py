"""`pbx-sms run`: the AMI listener, the call intake and the outbox worker in one asyncio process.

Shutdown: the first SIGTERM/SIGINT stops the listener (calls already complete are still queued),
then the worker (no new claims, in-flight sends finish or are handed back); a second signal aborts
at once and leaves the leases of unfinished sends to expire, so a restart sends them again under
the same idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from functools import partial
from typing import Any

from pbx_sms.ami.listener import AmiListener
from pbx_sms.config import Settings
from pbx_sms.core.backoff import Backoff, Jitter
from pbx_sms.core.call import CompletedCall
from pbx_sms.core.clock import utc_now
from pbx_sms.daemon.status import HEARTBEAT_INTERVAL_S, instance_name, write_heartbeat
from pbx_sms.db.errors import is_database_outage
from pbx_sms.gateways.registry import create_gateway
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.wakeup import listen_for_new_rows
from pbx_sms.outbox.worker import OutboxWorker
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database_from_settings

log = logging.getLogger("pbx_sms.daemon")

PENDING_CALLS_POLL_S = 1.0
# A database that cannot take a call right now: keep the call and try again, never drop it.
INTAKE_RETRY_MIN_S = 0.5
INTAKE_RETRY_MAX_S = 30.0
# No jitter: one daemon retrying its own call has nobody to fall out of step with.
INTAKE_RETRY = Backoff(INTAKE_RETRY_MIN_S, INTAKE_RETRY_MAX_S, Jitter.NONE)
INTAKE_MAX_OTHER_ERRORS = 3


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = open_database_from_settings(settings)
        self.gateway = create_gateway(settings)
        engine = self.database.engine
        outbox = SqlOutbox(engine)
        listener = partial(listen_for_new_rows, engine.url) if engine.dialect.name == "postgresql" else None
        self.worker = OutboxWorker(outbox, self.gateway, WorkerConfig.from_settings(settings), listener=listener)
        self.intake = CallIntake(
            self.database,
            outbox,
            ConfigCache(self.database),
            internal_max_digits=settings.tracking.internal_max_digits,
            on_queued=self.worker.wake,
        )
        self.listener = AmiListener.from_settings(settings, self._on_call)
        self.instance = instance_name()
        self.started_at = utc_now()
        # The intake is synchronous and not thread-safe: one call at a time, off the event loop.
        self._intake_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self.intake_errors = 0

    # --- calls in ------------------------------------------------------------------------------

    async def _on_call(self, call: CompletedCall) -> None:
        failures = 0
        other_errors = 0
        while True:
            try:
                async with self._intake_lock:
                    await asyncio.to_thread(self.intake.submit, call, "ami")
                return
            except Exception as exc:
                self.intake_errors += 1
                if not is_database_outage(exc):
                    # Not the database being away: the same error would come back every time, and
                    # waiting on it would hold up every later call.
                    other_errors += 1
                    if other_errors >= INTAKE_MAX_OTHER_ERRORS:
                        log.exception("call %s cannot be recorded; dropped: %s", call.call_id, call.to_json())
                        return
                if self._stopping.is_set():
                    log.error("call %s not recorded (%s); stopping, so it is lost", call.call_id, exc)
                    raise
                delay_s = INTAKE_RETRY.delay_s(failures, random)
                failures += 1
                log.warning("call %s not recorded yet (%s); retrying in %g s", call.call_id, exc, delay_s)
                await asyncio.sleep(delay_s)

    async def _process_pending_calls(self) -> None:
        """Calls the AGI hook recorded, or that an earlier run recorded but did not finish."""
        while not self._stopping.is_set():
            try:
                async with self._intake_lock:
                    await asyncio.to_thread(self.intake.process_pending)
            except Exception:
                self.intake_errors += 1
                log.exception("processing recorded calls failed; trying again")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PENDING_CALLS_POLL_S):
                    await self._stopping.wait()

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
                "reported_twice": self.intake.duplicate_reports,
                "processing_errors": self.intake.processing_errors,
            },
            "worker": vars(self.worker.counters).copy(),
            "gateway": self.gateway.name,
            "intake_errors": self.intake_errors,
        }

    async def _write_heartbeat(self, stopped: bool = False) -> None:
        details = self.status_details()
        try:
            await asyncio.to_thread(
                write_heartbeat,
                self.database.engine,
                self.instance,
                self.started_at,
                str(details["ami"]["state"]),
                details,
                utc_now(),
                stopped,
            )
        except Exception as exc:
            log.warning("writing the status heartbeat failed: %s", exc)

    async def _heartbeat(self) -> None:
        while not self._stopping.is_set():
            await self._write_heartbeat()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEARTBEAT_INTERVAL_S):
                    await self._stopping.wait()

    # --- lifecycle -----------------------------------------------------------------------------

    def stop(self) -> None:
        if not self._stopping.is_set():
            log.info("stopping: no new calls; finishing in-flight SMS (signal again to quit at once)")
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
            self.database.url.render_as_string(hide_password=True),
            self.gateway.name,
            self.settings.ami.username,
            self.settings.ami.host,
            self.settings.ami.port,
            "" if self.settings.ami.enabled else " (disabled)",
        )
        worker = asyncio.create_task(self.worker.run(), name="outbox-worker")
        background = [
            asyncio.create_task(self._process_pending_calls(), name="pending-calls"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
        ]
        listener: asyncio.Task[object]
        if self.settings.ami.enabled:
            listener = asyncio.create_task(self.listener.run(), name="ami-listener")
        else:
            log.info("AMI listener disabled (PBX_SMS_AMI_ENABLED=false): calls come from the AGI hook only")
            listener = asyncio.create_task(self._stopping.wait(), name="ami-disabled")
        try:
            # The listener returns only when stopped; the worker when stopped, aborted or crashed.
            await asyncio.wait({listener, worker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Whatever ended first, stop and await both (listener first: its completed calls still
            # reach the outbox), so the database and gateway never close under a running worker.
            self.stop()
            await asyncio.wait({listener})
            self.worker.stop()
            await asyncio.wait({worker})
            self._stopping.set()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._write_heartbeat(stopped=True)
            await self.gateway.close()
            self.database.close()
            log.info("pbx-sms stopped: %s; worker %s", self.intake_summary(), self.worker.counters)
        for ended in (listener, worker):
            error = None if ended.cancelled() else ended.exception()
            if error is not None:
                raise error

    def intake_summary(self) -> str:
        status = self.listener.status
        return (
            f"calls completed={status.completed_calls} recorded={self.intake.calls_recorded} "
            f"dropped={status.dropped_calls} reported_twice={self.intake.duplicate_reports}"
        )


async def run_daemon(settings: Settings) -> None:
    daemon = Daemon(settings)
    daemon.install_signal_handlers()
    await daemon.run()
