"""A supervised AMI connection: login, keep-alive Ping, reconnect with backoff.

panoramisk's Manager reconnects after a fixed delay and sends Ping without ever checking
the reply, so a half-open TCP connection goes unnoticed.  Here each attempt is one
:class:`AmiSession` (connect, log in, bounded waits for replies) and :class:`AmiConnection`
owns the lifecycle:

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from pbx_sms.ami.parser import DEFAULT_MAX_MESSAGE_BYTES, AmiMessage, ParserStats
from pbx_sms.ami.session import AmiSession, LoginRefused, SessionEnded, wait_event
from pbx_sms.ami.status import ConnectionState, ConnectionStatus
from pbx_sms.config import Settings
from pbx_sms.core.backoff import Backoff, Jitter, RandomSource

log = logging.getLogger(__name__)

# Repeated identical failures are logged at most this often (the retries themselves at DEBUG).
REPEAT_LOG_INTERVAL_S = 60.0


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
    """The delays between reconnect attempts: core Backoff with equal jitter, counting the attempts
    since the last connection that stayed up.

    Delay n is in [b/2, b], b = min(max, min·2ⁿ): half the delay is random so that many listeners
    restarted together do not reconnect in lock-step; the other half keeps the delays growing
    (delay n+1 ≥ delay n until the cap) and never lets a delay fall below ``min_s / 2`` (full jitter
    could retry at once, in a tight loop against an Asterisk that is down).
    """

    def __init__(self, min_s: float, max_s: float, rand: RandomSource = random) -> None:
        # A cap set below the floor keeps every delay near the floor.
        self.backoff = Backoff(min_s, max(max_s, min_s), Jitter.EQUAL)
        self.attempt = 0
        self._rand = rand

    def next_delay_s(self) -> float:
        delay_s = self.backoff.delay_s(self.attempt, self._rand)
        self.attempt += 1
        return delay_s

    def reset(self) -> None:
        self.attempt = 0


class AmiConnection:
    """Keeps one logged-in AMI connection alive until :meth:`stop`.

    ``on_event`` gets every wanted event (synchronously, in arrival order); ``on_up`` is
    called after each successful login, ``on_down(reason)`` after each connection that was up
    went away (before any reconnect).  ``after_login`` actions are sent after each login; the
    user may not be allowed them (their refusal is logged once, not an error).
    """

    def __init__(
        self,
        config: ConnectionConfig,
        on_event: Callable[[AmiMessage], None],
        *,
        wanted_events: Iterable[str] | None = None,
        on_up: Callable[[], None] | None = None,
        on_down: Callable[[str], None] | None = None,
        after_login: Sequence[Mapping[str, str]] = (),
        clock: Callable[[], float] = time.time,
        rand: RandomSource = random,
    ) -> None:
        self.config = config
        self._on_event = on_event
        self._wanted = None if wanted_events is None else frozenset(wanted_events)
        self._on_up = on_up
        self._on_down = on_down
        self._after_login = tuple(after_login)
        self._refused_actions: set[str] = set()
        self._clock = clock
        self.backoff = ReconnectBackoff(config.reconnect_min_s, config.reconnect_max_s, rand)
        started_s = clock()
        self._status = ConnectionStatus(state=ConnectionState.STOPPED, since=started_s, down_since=started_s)
        # Shared by the parsers of every connection: the status counts over all of them.
        self._parser_stats = ParserStats()
        self._stop_requested = False
        self._stop_event: asyncio.Event | None = None
        self._up_event: asyncio.Event | None = None
        self._down_log = DownLog(clock)

    @property
    def status(self) -> ConnectionStatus:
        stats = self._parser_stats
        return dataclasses.replace(
            self._status,
            skipped_events=stats.skipped,
            malformed_messages=stats.malformed_lines,
            oversized_messages=stats.oversized,
        )

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
        stop_event = self._stop_event = asyncio.Event()
        if self._up_event is None:
            self._up_event = asyncio.Event()
        if self._stop_requested:
            stop_event.set()
        first_attempt = True
        try:
            while not stop_event.is_set():
                self._set_state(ConnectionState.CONNECTING)
                if first_attempt:
                    log.info("AMI: connecting to %s as %r", self.config.address, self.config.username)
                else:
                    log.debug("AMI: connecting to %s (attempt %d)", self.config.address, self.backoff.attempt + 1)
                first_attempt = False
                outcome = await self._session(stop_event)
                if stop_event.is_set():
                    break
                if outcome.up_for_s is not None and outcome.up_for_s >= self.config.stable_after_s:
                    self.backoff.reset()
                delay_s = self.backoff.next_delay_s()
                self._status.retry_in_s = delay_s
                self._down_log.log(outcome, delay_s, self._status.failed_attempts)
                await wait_event(stop_event, delay_s)
                self._status.retry_in_s = None
        finally:
            self._set_state(ConnectionState.STOPPED)
            log.info(
                "AMI: stopped (%d connects, %d disconnects, %d events)",
                self._status.connects,
                self._status.disconnects,
                self._status.events,
            )

    async def _session(self, stop_event: asyncio.Event) -> Outcome:
        """One connection attempt, from TCP connect until the connection is gone."""
        config = self.config
        session = AmiSession(
            config.host,
            config.port,
            self._event_received,
            reply_timeout_s=config.ping_timeout_s,
            wanted_events=self._wanted,
            max_message_bytes=config.max_message_bytes,
            parser_stats=self._parser_stats,
            stop=stop_event,
        )
        try:
            await self._open(session)
        except (LoginRefused, SessionEnded) as exc:
            session.close()
            auth = isinstance(exc, LoginRefused)
            reason = self._login_refused(exc) if auth else str(exc)
            if not self._stop_requested:
                self._status.failed_attempts += 1
                self._status.auth_failures += auth
                self._status.last_error = reason
                self._set_state(ConnectionState.DOWN)
            return Outcome(None, reason, auth)
        except BaseException:
            session.close()
            raise

        up_at = self._clock()
        self._status.connects += 1
        self._status.failed_attempts = 0
        self._status.last_error = None
        self._status.server_version = session.banner
        self._set_state(ConnectionState.UP)
        self._down_log.forget()
        log.info(
            "AMI: up, logged in to %s as %r (Asterisk Call Manager %s)",
            config.address,
            config.username,
            session.banner or "version unknown",
        )
        assert self._up_event is not None
        self._up_event.set()
        if self._on_up is not None:
            self._on_up()

        try:
            await self._send_after_login(session)
            reason = await self._stay_up(session, stop_event)
            up_for_s = self._clock() - up_at
            if self._stop_requested:
                await session.logoff()
        finally:
            session.close()
            self._up_event.clear()
        self._status.disconnects += 1
        if not self._stop_requested:
            self._status.last_error = reason
            self._set_state(ConnectionState.DOWN)
        if self._on_down is not None:
            self._on_down("listener stopping" if self._stop_requested else reason)
        return Outcome(up_for_s, reason, False)

    async def _open(self, session: AmiSession) -> None:
        try:
            await session.connect()
        except OSError as exc:
            raise SessionEnded(
                f"cannot connect to {session.address}: {exc.strerror or exc} "
                "(waiting for Asterisk: is it running, with AMI enabled on this address?)"
            ) from None
        await session.login(self.config.username, self.config.secret, events="on")

    async def _send_after_login(self, session: AmiSession) -> None:
        for action in self._after_login:
            try:
                reply = await session.request(action)
            except SessionEnded:
                return  # lost or unanswered: staying up tells which
            name = action["Action"]
            if not reply.success and name not in self._refused_actions:
                self._refused_actions.add(name)
                log.info("AMI: %s refused (%s); going on without it", name, reply.get("Message") or "no reason given")

    def _login_refused(self, exc: BaseException) -> str:
        return (
            f"login refused for AMI user {self.config.username!r} at {self.config.address}: {exc} "
            "(check ami_username/ami_secret and the user's entry in manager.conf)"
        )

    async def _stay_up(self, session: AmiSession, stop_event: asyncio.Event) -> str:
        """Ping until the connection is lost, a Ping goes unanswered, or we stop; return why it ended."""
        pinger = asyncio.ensure_future(self._keepalive(session))
        stopping = asyncio.ensure_future(stop_event.wait())
        waits: set[asyncio.Future[Any]] = {pinger, session.lost, stopping}
        try:
            done, _pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pinger.cancel()
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pinger
        if session.lost in done:
            return session.lost.result()
        if pinger in done and not pinger.cancelled():
            error = pinger.exception()
            return pinger.result() if error is None else f"keep-alive failed: {error}"
        return "stopping"

    async def _keepalive(self, session: AmiSession) -> str:
        while True:
            await asyncio.sleep(self.config.ping_interval_s)
            try:
                await session.ping()
            except SessionEnded as exc:
                return str(exc)

    def _event_received(self, message: AmiMessage) -> None:
        self._status.events += 1
        self._on_event(message)

    def _set_state(self, state: ConnectionState) -> None:
        if state is not self._status.state:
            self._status.state = state
            self._status.since = self._clock()
            # Reconnect attempts go CONNECTING → DOWN → CONNECTING: only coming up ends "down since".
            if state is ConnectionState.UP:
                self._status.down_since = None
            elif self._status.down_since is None:
                self._status.down_since = self._status.since


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one connection attempt ended."""

    up_for_s: float | None  # None: never came up
    reason: str
    auth_failed: bool


class DownLog:
    """One line per new problem; the same problem again only every REPEAT_LOG_INTERVAL_S (else DEBUG)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last_reason: str | None = None
        self._last_at_s = 0.0

    def forget(self) -> None:
        """The connection is up: the next problem is new, whatever it is."""
        self._last_reason = None

    def log(self, outcome: Outcome, delay_s: float, failed_attempts: int) -> None:
        if outcome.up_for_s is not None:
            log.warning(
                "AMI: down after %.1f s up: %s; reconnecting in %.2f s", outcome.up_for_s, outcome.reason, delay_s
            )
            self._last_reason = None
            return
        now_s = self._clock()
        if outcome.reason != self._last_reason:
            level = logging.ERROR if outcome.auth_failed else logging.WARNING
            log.log(level, "AMI: %s; retry in %.2f s", outcome.reason, delay_s)
        elif now_s - self._last_at_s >= REPEAT_LOG_INTERVAL_S:
            log.warning(
                "AMI: still down after %d attempts: %s; retry in %.2f s", failed_attempts, outcome.reason, delay_s
            )
        else:
            log.debug("AMI: %s; retry in %.2f s", outcome.reason, delay_s)
            return
        self._last_reason = outcome.reason
        self._last_at_s = now_s
