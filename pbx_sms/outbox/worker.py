"""The outbox worker: claim due SMS, send them through the gateway, record what happened.

One loop (``run``): claim as many due rows as there are free send slots, start a task per row, then
sleep until the earliest due time, a wake-up (a row queued in this process, a PostgreSQL NOTIFY, a
free slot) or the poll interval. Outcomes are written in batches by a flusher task. Shutdown:
``stop()`` stops claiming, lets in-flight sends finish (up to the gateway timeout), hands back the
rest unsent and writes every outcome; ``abort()`` (a second signal) returns at once and leaves the
leases to expire: another worker sends those rows again with the same idempotency key if its gateway
can do so without risk (``resend_after_crash``), else holds them as ``unclear`` for an operator.
A database outage: claims and outcome writes back off, logged sparingly (pbx_sms.outbox.outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from pbx_sms.core.clock import utc_now
from pbx_sms.gateways.base import Gateway, SendResult
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.flow import Outbox
from pbx_sms.outbox.model import ClaimScope, OutboxRow, Outcome, Released, RetryLater, Sent
from pbx_sms.outbox.observe import SendAttempt, SendObserver, log_outcome
from pbx_sms.outbox.outage import REPORT_EVERY_S, DatabaseOutage, OutageLine, log_outage
from pbx_sms.outbox.retry import decide_after_send

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


# The gateway's own timeout fires first and says what it knows (not sent / outcome unknown); this
# backstop only catches a gateway that ignores its timeout, and never runs past the lease.
GATEWAY_TIMEOUT_SLACK_S = 1.0


@dataclass
class Counters:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    write_errors: int = 0

    def __str__(self) -> str:
        return " ".join(f"{name}={value}" for name, value in vars(self).items())


class OutboxWorker:
    def __init__(
        self,
        store: Outbox,
        gateway: Gateway,
        config: WorkerConfig | None = None,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        listener: Callable[[Callable[[], None]], Coroutine[Any, Any, None]] | None = None,
        pbx: str | None = None,
        outage_report_s: float = REPORT_EVERY_S,
        observer: SendObserver | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.config = config or WorkerConfig()
        self.worker_id = worker_id or new_worker_id()
        self.lease_s = self.config.lease_for(gateway.timeout_s)
        # A gateway local to one PBX (its GSM dongle: ``local_to_pbx = True``) sends only the SMS of
        # calls of the PBX this worker runs on (``pbx``); any other gateway sends those of every PBX.
        self.claim_scope = None if pbx is None else ClaimScope(pbx, local_gateway=gateway_is_local(gateway))
        self.resend_interrupted = gateway_resends_after_crash(gateway)
        self.max_in_flight = self.config.max_in_flight
        # A gateway may say how many sends it takes at once. Claimed rows beyond that wait here, not
        # inside the gateway, where the wait would count against the send timeout.
        self._send_slots = asyncio.Semaphore(getattr(gateway, "max_concurrency", None) or self.max_in_flight)
        self.counters = Counters()
        self._clock = clock
        self._rng = rng or random.Random()
        self._listener = listener
        self._observer = observer
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[asyncio.Task[None], OutboxRow] = {}
        # The in-flight tasks that hold a send slot: their request may be on the wire.
        self._sending: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._main: asyncio.Task[None] | None = None
        self._flush_stop = asyncio.Event()
        # Ends the flusher's wait early: stopping, or the database back while it waits out a backoff.
        self._flush_wake = asyncio.Event()
        # Apart: a write that keeps failing (a bug) while claims work must not end and restart the
        # claims' outage on every round, and the reverse.
        self._write_lock = asyncio.Lock()
        self._claim_outage = DatabaseOutage(report_every_s=outage_report_s)
        self._write_outage = DatabaseOutage(report_every_s=outage_report_s)

    # --- control -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something may be due sooner than the worker thinks (a row was queued): look again now."""
        self._wakeup.set()

    def stop(self) -> None:
        """Graceful: stop claiming, finish or hand back in-flight sends, write all outcomes, return."""
        if not self._stopping:
            in_flight = len(self._in_flight)
            log.info(
                "outbox worker %s stopping: %d send(s) in flight",
                self.worker_id,
                in_flight,
                extra={"worker": self.worker_id, "in_flight": in_flight},
            )
        self._stopping = True
        self._wakeup.set()

    def abort(self) -> None:
        """Immediate: return now; leases of in-flight rows expire and other workers send them again."""
        leases = len(self._in_flight)
        log.warning(
            "outbox worker %s aborting: %d lease(s) left to expire",
            self.worker_id,
            leases,
            extra={"worker": self.worker_id, "leases_left": leases},
        )
        self._stopping = True
        for task in self._in_flight:
            task.cancel()
        if self._main is not None:
            self._main.cancel()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: first one stops gracefully, a second one aborts."""
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if self._stopping:
                self.abort()
            else:
                self.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)

    # --- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        self._main = asyncio.current_task()
        log.info("outbox worker %s started (gateway %s, lease %g s)", self.worker_id, self.gateway.name, self.lease_s)
        flusher = asyncio.create_task(self._flush_forever())
        listener = asyncio.create_task(self._listener(self.wake)) if self._listener else None
        aborted = False
        try:
            while not self._stopping:
                # Cleared before looking, so a wake-up that comes while we look is not lost.
                self._wakeup.clear()
                await self._claim_and_start()
                if not self._stopping:
                    await self._sleep()
            await self._drain()
        except asyncio.CancelledError:
            aborted = True
            raise
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            if aborted:
                flusher.cancel()
            else:
                # Not cancelled: a flush cut short would lose its batch while its thread still writes.
                self._flush_stop.set()
                self._flush_wake.set()
                await flusher
            log.info(
                "outbox worker %s stopped: %s",
                self.worker_id,
                self.counters,
                extra={"worker": self.worker_id} | vars(self.counters),
            )

    async def _claim_and_start(self) -> None:
        if self._write_outage.ongoing:
            # Outcomes of sends made while the database was away are not written yet (or being
            # written), and their leases may have run out meanwhile: a claim now could take such a
            # row back and send it again. Write them first, and claim only once they are.
            await self._flush()
            if self._write_outage.ongoing:
                return
        while not self._stopping:
            want = min(self.max_in_flight - len(self._in_flight), self.config.claim_batch)
            if want <= 0:
                return
            try:
                rows = await asyncio.to_thread(
                    partial(self.store.claim_due, scope=self.claim_scope, resend_interrupted=self.resend_interrupted),
                    self.worker_id,
                    self._clock(),
                    want,
                    self.lease_s,
                )
            except Exception as exc:
                self.counters.write_errors += 1
                self._report(self._claim_outage.failed("claiming due SMS", exc, self._clock()), exc)
                return
            self._report(self._claim_outage.succeeded(self._clock()))
            self.counters.claimed += len(rows)
            for row in rows:
                task = asyncio.create_task(self._send(row))
                self._in_flight[task] = row
                task.add_done_callback(self._finished)
            if len(rows) < want:
                return

    async def _sleep(self) -> None:
        if self._claim_outage.ongoing:
            await self._pause(self._claim_outage.delay_s(self._rng))
            return
        # Claim in rounds at least claim_interval_s apart: a steady stream of due rows is then a few
        # transactions per second with several rows each, not one per SMS.
        await asyncio.sleep(self.config.claim_interval_s)
        timeout_s = self.config.poll_s
        if len(self._in_flight) < self.max_in_flight:
            try:
                next_due = await asyncio.to_thread(self.store.next_due_at, self.claim_scope)
            except Exception as exc:
                self._report(self._claim_outage.failed("reading the next due time", exc, self._clock()), exc)
                next_due = None
            if next_due is not None:
                wait_s = (next_due - self._clock()).total_seconds()
                timeout_s = min(timeout_s, max(wait_s, 0.0))
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._wakeup.wait()

    async def _pause(self, delay_s: float) -> None:
        """Wait out a database outage's backoff: only stop() ends it early (wake-ups cannot claim)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                while not self._stopping:
                    await self._wakeup.wait()
                    self._wakeup.clear()

    def _report(self, line: OutageLine | None, error: BaseException | None = None) -> None:
        log_outage(log, self.worker_id, line, error)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wakeup.set()

    # --- one send ------------------------------------------------------------------------------

    async def _send(self, row: OutboxRow) -> None:
        async with self._send_slots:
            task = asyncio.current_task()
            assert task is not None
            self._sending.add(task)
            try:
                await self._send_now(row)
            finally:
                self._sending.discard(task)

    async def _send_now(self, row: OutboxRow) -> None:
        assert row.locked_until is not None
        lease_left_s = (row.locked_until - self._clock()).total_seconds()
        if self.gateway.timeout_s >= lease_left_s:
            # Waited too long for a free slot: a send now could outlast the lease and race another
            # worker's claim of the same row. Hand it back instead.
            self.counters.released += 1
            self._outcomes.append(Released(row.id, row.unclear_since))
            return
        send_limit_s = min(self.gateway.timeout_s + GATEWAY_TIMEOUT_SLACK_S, lease_left_s)
        started_at = self._clock()
        try:
            async with asyncio.timeout(send_limit_s):
                result = await self.gateway.send(row.outgoing())
        except TimeoutError:
            result = SendResult.unclear(f"gateway {self.gateway.name} took longer than {send_limit_s:g} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A bug in a gateway: keep the SMS (bounded retries) and say what happened. It may have
            # raised after the request went out, so it counts as sent meanwhile.
            log.exception("gateway %s failed on SMS %d", self.gateway.name, row.id)
            result = SendResult.unclear(f"gateway error: {type(exc).__name__}: {exc}")
        ended_at = self._clock()
        outcome = decide_after_send(
            row, result, self.gateway.name, now=ended_at, policy=self.config.retry, rng=self._rng
        )
        self._observe(row, result, started_at, ended_at, outcome)
        if isinstance(outcome, Sent):
            self.counters.sent += 1
        elif isinstance(outcome, RetryLater):
            self.counters.retried += 1
        else:
            self.counters.failed += 1
        log_outcome(row, outcome)
        self._outcomes.append(outcome)

    def _observe(
        self, row: OutboxRow, result: SendResult, started_at: datetime, ended_at: datetime, outcome: Outcome
    ) -> None:
        if self._observer is None:
            return
        attempt = SendAttempt(
            result=result.outcome,
            duration_s=(ended_at - started_at).total_seconds(),
            lateness_s=(started_at - row.due_at).total_seconds(),
            outcome=outcome,
        )
        try:
            self._observer(attempt)
        except Exception:
            # Counting must never cost an SMS its outcome.
            log.exception("outbox worker %s: the send observer failed", self.worker_id)

    # --- recording outcomes --------------------------------------------------------------------

    async def _flush_forever(self) -> None:
        while not self._flush_stop.is_set():
            wait_s = self.config.flush_interval_s
            if self._write_outage.ongoing:
                wait_s = max(wait_s, self._write_outage.delay_s(self._rng))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._flush_wake.wait()
            if not self._flush_stop.is_set():
                self._flush_wake.clear()
            await self._flush()
        await self._flush()  # what came in during the last round

    async def _flush(self) -> None:
        # One write at a time: a claim that waits for the outcomes to be written waits for this.
        async with self._write_lock:
            await self._write_outcomes()

    async def _write_outcomes(self) -> None:
        if not self._outcomes:
            return
        batch, self._outcomes = self._outcomes, []
        try:
            await asyncio.to_thread(self.store.apply, self.worker_id, batch, self._clock())
            back = self._write_outage.succeeded(self._clock())
            if back is not None:
                self._report(back)
                # The flusher may be waiting out a long backoff: outcomes coming in now must not wait
                # for it (their leases run on).
                self._flush_wake.set()
            if any(isinstance(outcome, RetryLater | Released) for outcome in batch):
                self._wakeup.set()  # a retry may be due before the loop meant to look again
        except Exception as exc:
            # Keep them for the next flush; if this worker dies first, the leases expire and the
            # rows are sent again with the same idempotency key.
            self.counters.write_errors += 1
            self._outcomes[:0] = batch
            what = f"writing {len(self._outcomes)} outcome(s)"
            self._report(self._write_outage.failed(what, exc, self._clock()), exc)

    async def _drain(self) -> None:
        """Hand back at once the rows still waiting for a send slot (nothing was sent for them); let
        the sends already under way finish: each is bounded by the gateway timeout and its lease, and
        cutting one short would make a restart send that SMS again."""
        for task, row in list(self._in_flight.items()):
            if task.done() or task in self._sending:
                continue
            task.cancel()
            self.counters.released += 1
            self._outcomes.append(Released(row.id, row.unclear_since))
        started = [task for task in self._in_flight if task in self._sending]
        if started:
            await asyncio.wait(started)


def gateway_resends_after_crash(gateway: Gateway) -> bool:
    """Whether an attempt cut short by a crash may be sent again by this gateway (``resend_after_crash``:
    it deduplicates or looks up, or its setting says resend); a gateway that does not say is held."""
    return bool(getattr(gateway, "resend_after_crash", False))


def gateway_is_local(gateway: Gateway) -> bool:
    """Whether the gateway sends through its own PBX (``local_to_pbx = True``: the ami gateway's dongle)."""
    return bool(getattr(gateway, "local_to_pbx", False))
