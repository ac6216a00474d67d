"""The live AMI listener: connection → call tracker → ``on_call(CompletedCall)``.

Three tasks share one event loop, so the tracker (pure, not thread-safe) is only ever touched
from loop callbacks (the timer and the delivery run under a TaskSupervisor: a failure is logged,
counted and the task restarted; an event the tracker fails on is logged, counted and skipped):

- the connection feeds each event to the tracker as it is parsed (tracker time = wall clock);
- a timer sleeps until the tracker's next deadline and ticks it, so the last call of a quiet
  night is emitted once its grace period ends, not when the next event happens to arrive;
- a delivery task awaits ``on_call`` for each completed call, in order, so a slow consumer
  never stalls the socket.

A disconnect does not end calls: the tracker keeps the calls in progress across the gap and
completes them from the events still to come (their evidence says ``gap``); only an Asterisk
restart, which the tracker recognises in the stream, ends them unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pbx_sms.ami.connection import AmiConnection, ConnectionConfig
from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.session import wait_event
from pbx_sms.ami.status import ConnectionStatus
from pbx_sms.ami.tracker import WANTED_EVENTS, CallTracker, TrackerConfig
from pbx_sms.config import Settings
from pbx_sms.core.call import CompletedCall
from pbx_sms.tasks import TaskFailed, TaskSupervisor

log = logging.getLogger(__name__)

OnCall = Callable[[CompletedCall], Awaitable[None]]
# Lists the channels alive after a (re)connect (write class reporting, optional): the tracker
# reads the reply's events.  A read-only user is refused and the tracker goes on without it.
RESYNC_ACTION = {"Action": "CoreShowChannels"}
# How long a graceful stop waits for on_call to take the calls already completed.
DRAIN_TIMEOUT_S = 10.0
EVENT_ERROR_LOG_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    connection: ConnectionStatus
    open_calls: int
    completed_calls: int
    # Of the completed calls, those partly seen (evidence gap) and known from Cdrs (evidence cdr).
    gap_calls: int
    cdr_calls: int
    dropped_calls: int
    delivered_calls: int
    failed_deliveries: int
    pending_deliveries: int
    # Events the tracker could not use: of calls that began before it listened, without the ids
    # they need, and Cdrs whose channel never showed up.
    unknown_channel_events: int
    malformed_events: int
    orphan_cdrs: int
    # Events of legs beyond max_channels_per_call (and Cdrs beyond it), not used.
    untracked_leg_events: int
    # Events the tracker raised on (a bug met by odd input): logged and skipped.
    event_errors: int
    # Events dated at their receipt because their Timestamp was absurd (year 10000, days off...).
    bad_timestamps: int

    def to_json(self) -> dict[str, Any]:
        return {
            "connection": self.connection.to_json(),
            "open_calls": self.open_calls,
            "completed_calls": self.completed_calls,
            "gap_calls": self.gap_calls,
            "cdr_calls": self.cdr_calls,
            "dropped_calls": self.dropped_calls,
            "delivered_calls": self.delivered_calls,
            "failed_deliveries": self.failed_deliveries,
            "pending_deliveries": self.pending_deliveries,
            "unknown_channel_events": self.unknown_channel_events,
            "malformed_events": self.malformed_events,
            "orphan_cdrs": self.orphan_cdrs,
            "bad_timestamps": self.bad_timestamps,
            "event_errors": self.event_errors,
            "untracked_leg_events": self.untracked_leg_events,
        }


class AmiListener:
    def __init__(
        self,
        connection_config: ConnectionConfig,
        tracker: CallTracker,
        on_call: OnCall,
        *,
        clock: Callable[[], float] = time.time,
        supervisor: TaskSupervisor | None = None,
    ) -> None:
        """``supervisor``: the daemon's, so a task failing for good stops the daemon; without one the
        listener has its own, and run() stops and raises TaskFailed."""
        self.tracker = tracker
        self._owns_supervisor = supervisor is None
        self.supervisor = TaskSupervisor(self._task_failed) if supervisor is None else supervisor
        self.event_errors = 0
        self._event_error_logged_s = -math.inf
        self._on_call = on_call
        self._clock = clock
        self.connection = AmiConnection(
            connection_config,
            self._event_received,
            wanted_events=WANTED_EVENTS,
            on_down=self._connection_down,
            after_login=(RESYNC_ACTION,),
            clock=clock,
        )
        self._queue: asyncio.Queue[CompletedCall] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._timer_until_s = math.inf
        self._stop_requested = False
        self.delivered = 0
        self.failed_deliveries = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, on_call: OnCall, supervisor: TaskSupervisor | None = None
    ) -> AmiListener:
        tracker = CallTracker(TrackerConfig.from_settings(settings))
        return cls(ConnectionConfig.from_settings(settings), tracker, on_call, supervisor=supervisor)

    @property
    def status(self) -> ListenerStatus:
        tracker = self.tracker.stats
        return ListenerStatus(
            connection=self.connection.status,
            open_calls=self.tracker.open_calls,
            completed_calls=tracker.completed,
            gap_calls=tracker.completed_gap,
            cdr_calls=tracker.completed_cdr,
            dropped_calls=tracker.dropped,
            delivered_calls=self.delivered,
            failed_deliveries=self.failed_deliveries,
            pending_deliveries=self._queue.qsize(),
            unknown_channel_events=tracker.unknown_channel_events,
            malformed_events=tracker.malformed_events,
            orphan_cdrs=tracker.orphan_cdrs,
            event_errors=self.event_errors,
            untracked_leg_events=tracker.untracked_leg_events,
            bad_timestamps=self.tracker.bad_timestamps,
        )

    def stop(self) -> None:
        """Ask run() to finish: log off, hand on the calls already complete, then return."""
        self._stop_requested = True
        self.connection.stop()

    async def run(self) -> None:
        if self._stop_requested:
            return
        timer = self.supervisor.start("ami-tracker-timer", self._run_timer)
        delivery = self.supervisor.start("ami-call-delivery", self._deliver)
        try:
            await self.connection.run()
        finally:
            self.connection.stop()
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
            # Stopping ends the input: calls whose channels all hung up are handed on now.
            self._enqueue(self.tracker.flush())
            # A run() cancelled from outside still hands on what it has, within DRAIN_TIMEOUT_S.
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._queue.join(), DRAIN_TIMEOUT_S)
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery
            status = self.status
            log.info(
                "AMI listener stopped: %d calls completed, %d delivered, %d delivery failures, %d dropped",
                status.completed_calls,
                status.delivered_calls,
                status.failed_deliveries,
                status.dropped_calls,
            )
        if self._owns_supervisor and self.supervisor.fatal is not None:
            raise self.supervisor.fatal

    # ---- connection callbacks (synchronous, in the event loop) -----------------------------

    def _task_failed(self, failure: TaskFailed) -> None:
        self.stop()

    def _event_received(self, message: AmiMessage) -> None:
        now_s = self._clock()
        try:
            completed = self.tracker.feed(message, now_s)
        except Exception:
            # Not up into the protocol: asyncio would drop the connection, and every call with it.
            self.event_errors += 1
            if now_s - self._event_error_logged_s >= EVENT_ERROR_LOG_INTERVAL_S:
                self._event_error_logged_s = now_s
                log.exception(
                    "the call tracker failed on an AMI %s event (%d such events so far, logged once a minute); skipped",
                    message.event,
                    self.event_errors,
                )
            return
        self._enqueue(completed)
        deadline_s = self.tracker.next_deadline_s()
        if deadline_s is not None and deadline_s < self._timer_until_s:
            self._wake.set()

    def _connection_down(self, reason: str) -> None:
        # A lost connection does not end calls: the tracker keeps them across the gap.
        open_calls = self.tracker.open_calls
        self.tracker.connection_lost()
        if open_calls:
            log.info("AMI connection down (%s): %d calls in progress kept across the gap", reason, open_calls)

    def _enqueue(self, calls: list[CompletedCall]) -> None:
        for call in calls:
            self._queue.put_nowait(call)

    # ---- tasks ----------------------------------------------------------------------------

    async def _run_timer(self) -> None:
        while True:
            deadline_s = self.tracker.next_deadline_s()
            self._timer_until_s = math.inf if deadline_s is None else deadline_s
            self._wake.clear()
            timeout_s = None if deadline_s is None else max(0.0, deadline_s - self._clock())
            await wait_event(self._wake, timeout_s)
            self._enqueue(self.tracker.tick(self._clock()))

    async def _deliver(self) -> None:
        while True:
            call = await self._queue.get()
            try:
                await self._on_call(call)
                self.delivered += 1
            except Exception:
                self.failed_deliveries += 1
                log.exception("handing on call %s (%s, %s) failed", call.call_id, call.direction, call.status)
            finally:
                self._queue.task_done()
