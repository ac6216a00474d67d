"""A supervised AMI connection: login, keep-alive Ping, reconnect with backoff.

panoramisk's Manager reconnects after a fixed delay and sends Ping without ever checking
the reply, so a half-open TCP connection goes unnoticed.  Here a small Manager subclass
does one connection's plumbing (connect, send actions, collect responses through our
:class:`AmiProtocol`) and :class:`AmiConnection` owns the lifecycle:

    connecting ──login ok──▶ up ──(drop | Ping unanswered | Shutdown)──▶ down ──backoff──▶ connecting

A successful Login response marks the connection up: ``FullyBooted`` only reaches users with
the ``system`` read class, and the least-privilege ``read=call,cdr`` user never sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from panoramisk import Manager
from panoramisk.message import Message
from pydantic import SecretStr

from pbx_sms.ami.parser import DEFAULT_MAX_MESSAGE_BYTES, AmiMessage, ParserStats
from pbx_sms.ami.protocol import AmiProtocol
from pbx_sms.config import Settings

log = logging.getLogger(__name__)

# Repeated identical failures are logged at most this often (the retries themselves at DEBUG).
REPEAT_LOG_INTERVAL_S = 60.0
LOGOFF_TIMEOUT_S = 1.0


async def wait_event(event: asyncio.Event, timeout_s: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` passes; True if it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives just as
    the event is set, and the cancelled task carries on.
    """
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout_s)
    finally:
        waiter.cancel()
    return event.is_set()


class ConnectionState(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    host: str
    port: int
    username: str
    secret: SecretStr
    ping_interval_s: float = 20.0
    # Also bounds the TCP connect and the Login reply.
    ping_timeout_s: float = 5.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 60.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionConfig:
        ami = settings.ami
        return cls(
            host=ami.host,
            port=ami.port,
            username=ami.username,
            secret=ami.secret,
            ping_interval_s=ami.ping_interval_s,
            ping_timeout_s=ami.ping_timeout_s,
            reconnect_min_s=ami.reconnect_min_s,
            reconnect_max_s=ami.reconnect_max_s,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def stable_after_s(self) -> float:
        """A connection up this long (one Ping answered) resets the backoff."""
        return self.ping_interval_s + self.ping_timeout_s


class ReconnectBackoff:
    """Exponential backoff with "equal jitter": delay n is in [b/2, b], b = min(max, min·2ⁿ).

    Half the delay is random so that many listeners restarted together do not reconnect in
    lock-step; the other half keeps the delays growing (delay n+1 ≥ delay n until the cap).
    """

    def __init__(self, min_s: float, max_s: float, rand: Callable[[], float] = random.random) -> None:
        self.min_s = min_s
        self.max_s = max(max_s, min_s)
        self.attempt = 0
        self._rand = rand

    def next_delay_s(self) -> float:
        base_s = min(self.max_s, self.min_s * 2.0 ** min(self.attempt, 64))
        self.attempt += 1
        return base_s / 2 + base_s / 2 * self._rand()

    def reset(self) -> None:
        self.attempt = 0


@dataclass(slots=True)
class ConnectionStatus:
    """Counters for ``pbx-sms status``: a snapshot, safe to hand out."""

    state: ConnectionState
    since: float
    connects: int = 0
    disconnects: int = 0
    auth_failures: int = 0
    failed_attempts: int = 0
    events: int = 0
    last_error: str | None = None
    server_version: str | None = None
    # What the parser threw away, over all connections: unwanted events skipped before parsing,
    # blocks without a single "Key: value" line, messages over max_message_bytes.
    skipped_events: int = 0
    malformed_messages: int = 0
    oversized_messages: int = 0
    retry_in_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "since": self.since,
            "connects": self.connects,
            "disconnects": self.disconnects,
            "auth_failures": self.auth_failures,
            "failed_attempts": self.failed_attempts,
            "events": self.events,
            "last_error": self.last_error,
            "server_version": self.server_version,
            "skipped_events": self.skipped_events,
            "malformed_messages": self.malformed_messages,
            "oversized_messages": self.oversized_messages,
            "retry_in_s": self.retry_in_s,
        }


class AuthenticationFailed(Exception):
    pass


class _SessionEnded(Exception):
    """The connection went away; the message is the reason, for the log."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    up_for_s: float | None  # None: never came up
    reason: str
    auth_failed: bool


class AmiManager(Manager):
    """One AMI connection through panoramisk, with its own reconnect and ping timers disabled.

    :class:`AmiConnection` creates one per attempt; ``lost`` resolves with the reason when the
    socket closes.
    """

    def __init__(
        self,
        config: ConnectionConfig,
        wanted_events: Iterable[str] | None,
        on_event: Callable[[AmiMessage], None],
    ) -> None:
        wanted = None if wanted_events is None else frozenset(wanted_events)
        super().__init__(
            host=config.host,
            port=config.port,
            loop=asyncio.get_running_loop(),
            encoding="utf-8",
            protocol_factory=lambda: AmiProtocol(self, wanted, config.max_message_bytes),
            log=logging.getLogger("pbx_sms.ami.panoramisk"),
            forgetable_actions=("ping", "login", "logoff"),
        )
        self._on_event = on_event
        self.lost: asyncio.Future[str] = self.loop.create_future()
        self.protocol: AmiProtocol | None = None

    async def open(self) -> AmiProtocol:
        _transport, protocol = await self.loop.create_connection(
            self.config["protocol_factory"], self.config["host"], self.config["port"]
        )
        self._connected = True
        self.protocol = protocol
        self.responses = protocol.responses
        return protocol

    def send_action(self, action: Any, as_list: bool | None = None, **kwargs: Any) -> asyncio.Future[Any]:
        if self.protocol is None or self.protocol.closed:
            raise _SessionEnded("connection closed")
        return super().send_action(action, as_list=as_list, **kwargs)

    def ami_event_received(self, message: AmiMessage) -> None:
        self._on_event(message)

    def connection_lost(self, exc: BaseException | None) -> None:
        # panoramisk would schedule a reconnect here; AmiConnection decides that.
        self._connected = False
        if not self.lost.done():
            reason = f"connection lost: {exc}" if exc else "connection closed by the server"
            self.lost.set_result(reason)

    def ping(self) -> None:
        """Disabled: panoramisk's pinger never checks the reply; AmiConnection pings instead."""

    def close(self) -> None:
        if self.protocol is not None:
            self.protocol.close()
        if not self.lost.done():
            self.lost.set_result("closed by us")


class AmiConnection:
    """Keeps one logged-in AMI connection alive until :meth:`stop`.

    ``on_event`` gets every wanted event (synchronously, in arrival order); ``on_up`` is
    called after each successful login, ``on_down(reason)`` after each connection that was up
    went away (before any reconnect).
    """

    def __init__(
        self,
        config: ConnectionConfig,
        on_event: Callable[[AmiMessage], None],
        *,
        wanted_events: Iterable[str] | None = None,
        on_up: Callable[[], None] | None = None,
        on_down: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._on_event = on_event
        self._wanted = None if wanted_events is None else frozenset(wanted_events)
        self._on_up = on_up
        self._on_down = on_down
        self._clock = clock
        self.backoff = ReconnectBackoff(config.reconnect_min_s, config.reconnect_max_s, rand)
        self._status = ConnectionStatus(state=ConnectionState.STOPPED, since=clock())
        self._stop_requested = False
        self._stop_event: asyncio.Event | None = None
        self._manager: AmiManager | None = None
        self._last_logged_error: str | None = None
        self._last_logged_at = 0.0
        self._up_event: asyncio.Event | None = None

    @property
    def status(self) -> ConnectionStatus:
        snapshot = dataclasses.replace(self._status)
        manager = self._manager
        if manager is not None and manager.protocol is not None:
            _add_parser_stats(snapshot, manager.protocol.parser.stats)
        return snapshot

    @property
    def state(self) -> ConnectionState:
        return self._status.state

    async def wait_up(self) -> None:
        """Return once the connection is (or becomes) up."""
        if self._up_event is None:
            self._up_event = asyncio.Event()
        if self._status.state is ConnectionState.UP:
            return
        await self._up_event.wait()

    def stop(self) -> None:
        self._stop_requested = True
        if self._stop_event is not None:
            self._stop_event.set()

    async def run(self) -> None:
        self._stop_event = asyncio.Event()
        if self._up_event is None:
            self._up_event = asyncio.Event()
        if self._stop_requested:
            self._stop_event.set()
        first_attempt = True
        try:
            while not self._stop_requested:
                self._set_state(ConnectionState.CONNECTING)
                if first_attempt:
                    log.info("AMI: connecting to %s as %r", self.config.address, self.config.username)
                else:
                    log.debug("AMI: connecting to %s (attempt %d)", self.config.address, self.backoff.attempt + 1)
                first_attempt = False
                outcome = await self._session()
                if self._stop_requested:
                    break
                if outcome.up_for_s is not None and outcome.up_for_s >= self.config.stable_after_s:
                    self.backoff.reset()
                delay_s = self.backoff.next_delay_s()
                self._status.retry_in_s = delay_s
                self._log_down(outcome, delay_s)
                await wait_event(self._stop_event, delay_s)
                self._status.retry_in_s = None
        finally:
            manager, self._manager = self._manager, None
            if manager is not None:
                self._retire(manager)
            self._set_state(ConnectionState.STOPPED)
            log.info(
                "AMI: stopped (%d connects, %d disconnects, %d events)",
                self._status.connects,
                self._status.disconnects,
                self._status.events,
            )

    async def _session(self) -> _Outcome:
        """One connection attempt, from TCP connect until the connection is gone."""
        if self._manager is not None:
            self._retire(self._manager)
        manager = AmiManager(self.config, self._wanted, self._event_received)
        self._manager = manager
        try:
            try:
                protocol = await self._bounded(manager.open(), manager, "TCP connect")
            except OSError as exc:
                raise _SessionEnded(
                    f"cannot connect to {self.config.address}: {exc.strerror or exc} "
                    "(waiting for Asterisk: is it running, with AMI enabled on this address?)"
                ) from None
            await self._login(manager)
        except (AuthenticationFailed, _SessionEnded) as exc:
            manager.close()
            auth = isinstance(exc, AuthenticationFailed)
            if not self._stop_requested:
                self._status.failed_attempts += 1
                self._status.auth_failures += auth
                self._status.last_error = str(exc)
                self._set_state(ConnectionState.DOWN)
            return _Outcome(None, str(exc), auth)

        up_at = self._clock()
        self._status.connects += 1
        self._status.failed_attempts = 0
        self._status.last_error = None
        self._status.server_version = protocol.banner
        self._set_state(ConnectionState.UP)
        self._last_logged_error = None
        log.info(
            "AMI: up, logged in to %s as %r (Asterisk Call Manager %s)",
            self.config.address,
            self.config.username,
            protocol.banner or "version unknown",
        )
        assert self._up_event is not None
        self._up_event.set()
        if self._on_up is not None:
            self._on_up()

        reason = await self._stay_up(manager)
        up_for_s = self._clock() - up_at
        if self._stop_requested:
            await self._logoff(manager)
        manager.close()
        self._up_event.clear()
        self._status.disconnects += 1
        if not self._stop_requested:
            self._status.last_error = reason
            self._set_state(ConnectionState.DOWN)
        if self._on_down is not None:
            self._on_down("listener stopping" if self._stop_requested else reason)
        return _Outcome(up_for_s, reason, False)

    async def _bounded(self, awaitable: Awaitable[Any], manager: AmiManager, what: str) -> Any:
        """Await ``awaitable`` unless the connection is lost, we stop, or ping_timeout_s passes."""
        assert self._stop_event is not None
        task = asyncio.ensure_future(awaitable)
        stop_task = asyncio.ensure_future(self._stop_event.wait())
        try:
            done, _pending = await asyncio.wait(
                {task, manager.lost, stop_task},
                timeout=self.config.ping_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stop_task.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if manager.lost in done:
            raise _SessionEnded(f"{manager.lost.result()} (during {what})")
        if stop_task in done:
            raise _SessionEnded("stopping")
        raise _SessionEnded(f"no reply to {what} within {self.config.ping_timeout_s:g} s")

    async def _login(self, manager: AmiManager) -> None:
        login = {
            "Action": "Login",
            "Username": self.config.username,
            "Secret": self.config.secret.get_secret_value(),
            "Events": "on",
        }
        response: Message = await self._bounded(manager.send_action(login), manager, "Login")
        if not response.success:
            detail = response.get("Message", "") or response.get("Response", "no reason given")
            raise AuthenticationFailed(
                f"login refused for AMI user {self.config.username!r} at {self.config.address}: {detail} "
                "(check ami_username/ami_secret and the user's entry in manager.conf)"
            )

    async def _stay_up(self, manager: AmiManager) -> str:
        """Ping until the connection is lost, a Ping goes unanswered, or we stop; return why it ended."""
        assert self._stop_event is not None
        pinger = asyncio.ensure_future(self._keepalive(manager))
        stop_task = asyncio.ensure_future(self._stop_event.wait())
        try:
            done, _pending = await asyncio.wait({pinger, manager.lost, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pinger.cancel()
            stop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pinger
        if manager.lost in done:
            return manager.lost.result()
        if pinger in done and not pinger.cancelled() and pinger.exception() is None:
            return pinger.result()
        if pinger in done and not pinger.cancelled() and pinger.exception() is not None:
            return f"keep-alive failed: {pinger.exception()}"
        return "stopping"

    async def _keepalive(self, manager: AmiManager) -> str:
        while True:
            await asyncio.sleep(self.config.ping_interval_s)
            try:
                await self._bounded(manager.send_action({"Action": "Ping"}), manager, "Ping")
            except _SessionEnded as exc:
                return str(exc)

    async def _logoff(self, manager: AmiManager) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(manager.send_action({"Action": "Logoff"}), LOGOFF_TIMEOUT_S)

    def _retire(self, manager: AmiManager) -> None:
        """Close a finished connection and keep its parser counters."""
        manager.close()
        if manager.protocol is not None:
            _add_parser_stats(self._status, manager.protocol.parser.stats)
            manager.protocol = None
        if self._manager is manager:
            self._manager = None

    def _event_received(self, message: AmiMessage) -> None:
        self._status.events += 1
        self._on_event(message)

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self._status.state:
            self._status.state = state
            self._status.since = self._clock()

    def _log_down(self, outcome: _Outcome, delay_s: float) -> None:
        """One line per new problem; the same problem again only every REPEAT_LOG_INTERVAL_S."""
        if outcome.up_for_s is not None:
            log.warning(
                "AMI: down after %.1f s up: %s; reconnecting in %.2f s", outcome.up_for_s, outcome.reason, delay_s
            )
            self._last_logged_error = None
            return
        now = self._clock()
        if outcome.reason != self._last_logged_error:
            level = logging.ERROR if outcome.auth_failed else logging.WARNING
            log.log(level, "AMI: %s; retry in %.2f s", outcome.reason, delay_s)
        elif now - self._last_logged_at >= REPEAT_LOG_INTERVAL_S:
            log.warning(
                "AMI: still down after %d attempts: %s; retry in %.2f s",
                self._status.failed_attempts,
                outcome.reason,
                delay_s,
            )
        else:
            log.debug("AMI: %s; retry in %.2f s", outcome.reason, delay_s)
            return
        self._last_logged_error = outcome.reason
        self._last_logged_at = now


def _add_parser_stats(status: ConnectionStatus, stats: ParserStats) -> None:
    status.skipped_events += stats.skipped
    status.malformed_messages += stats.malformed_lines
    status.oversized_messages += stats.oversized
