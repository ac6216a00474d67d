"""One AMI session over TCP: connect, log in, send actions and wait for their replies, every wait bounded.

Both AMI users of pbx-sms go through it: the listener's supervised connection (pbx_sms.ami.connection)
and the AMI send gateway (pbx_sms.gateways.ami).  Replies are matched to their actions by panoramisk's
action machinery inside our :class:`AmiProtocol`.  panoramisk's Manager is not used: its fixed-delay
reconnect, its Ping that never checks the reply and its replay of unanswered actions after a reconnect
are what this package does differently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import SecretStr

from pbx_sms.ami.parser import DEFAULT_MAX_MESSAGE_BYTES, AmiMessage, ParserStats
from pbx_sms.ami.protocol import AmiProtocol, AmiReply

T = TypeVar("T")

LOGOFF_TIMEOUT_S = 1.0


class SessionEnded(Exception):
    """The session cannot go on: the connection is gone, a reply did not come in time, or we are
    stopping; the message says which, for the log."""


class LoginRefused(Exception):
    """Asterisk refused the username or the secret; the message is Asterisk's reason."""


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


class AmiSession:
    """One TCP connection to the AMI, from :meth:`connect` until it is lost or closed.

    Every wait for Asterisk ends after ``reply_timeout_s``, when the connection is lost, or when
    ``stop`` is set, with :class:`SessionEnded` saying which.  ``lost`` resolves with the reason once
    the connection is gone.  ``on_event`` gets every wanted event, synchronously, in arrival order.
    ``parser_stats`` may be shared by successive sessions, to count over all of them.
    """

    def __init__(
        self,
        host: str,
        port: int,
        on_event: Callable[[AmiMessage], None],
        *,
        reply_timeout_s: float,
        wanted_events: Iterable[str] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        parser_stats: ParserStats | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.reply_timeout_s = reply_timeout_s
        self._on_event = on_event
        self._wanted = None if wanted_events is None else frozenset(wanted_events)
        self._max_message_bytes = max_message_bytes
        self._parser_stats = parser_stats
        self._stop = stop
        self.lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._protocol: AmiProtocol | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def banner(self) -> str | None:
        """The Asterisk Call Manager version the server announced, once connected."""
        return None if self._protocol is None else self._protocol.banner

    async def connect(self) -> None:
        """Open the TCP connection: OSError when it is refused or unreachable, SessionEnded when
        it does not open in time or we stop."""

        def make_protocol() -> AmiProtocol:
            return AmiProtocol(
                self._on_event, self._connection_lost, self._wanted, self._max_message_bytes, self._parser_stats
            )

        opening = asyncio.get_running_loop().create_connection(make_protocol, self.host, self.port)
        _transport, self._protocol = await self._bounded(opening, "TCP connect", self.reply_timeout_s, self._stop)

    async def login(self, username: str, secret: SecretStr, events: str) -> None:
        """Log in; ``events`` is the Login's Events header (on, off, or the read classes wanted)."""
        reply = await self.request(
            {"Action": "Login", "Username": username, "Secret": secret.get_secret_value(), "Events": events}
        )
        if not reply.success:
            raise LoginRefused(reply.get("Message") or reply.get("Response", "no reason given"))

    async def request(self, action: Mapping[str, str]) -> AmiReply:
        """Send one action (one with a single reply) and return its reply."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise SessionEnded("connection closed")
        reply = await self._bounded(protocol.send(action), action["Action"], self.reply_timeout_s, self._stop)
        return AmiReply(reply)

    async def ping(self) -> None:
        await self.request({"Action": "Ping"})

    async def logoff(self) -> None:
        """Log off, waiting LOGOFF_TIMEOUT_S at most: whoever stops does not wait on a silent server."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            return
        with contextlib.suppress(Exception):
            await self._bounded(protocol.send({"Action": "Logoff"}), "Logoff", LOGOFF_TIMEOUT_S, None)

    def close(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
        if not self.lost.done():
            self.lost.set_result("closed by us")

    def _connection_lost(self, exc: BaseException | None) -> None:
        if not self.lost.done():
            self.lost.set_result(f"connection lost: {exc}" if exc else "connection closed by the server")

    async def _bounded(self, awaitable: Awaitable[T], what: str, timeout_s: float, stop: asyncio.Event | None) -> T:
        """Await ``awaitable`` unless the connection is lost, ``stop`` is set, or ``timeout_s`` passes."""
        task = asyncio.ensure_future(awaitable)
        waits: set[asyncio.Future[Any]] = {task, self.lost}
        stopping = None if stop is None else asyncio.ensure_future(stop.wait())
        if stopping is not None:
            waits.add(stopping)
        try:
            done, _pending = await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if stopping is not None:
                stopping.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if self.lost in done:
            raise SessionEnded(f"{self.lost.result()} (during {what})")
        if stopping is not None and stopping in done:
            raise SessionEnded("stopping")
        raise SessionEnded(f"no reply to {what} within {timeout_s:g} s")
