"""A fake Asterisk Manager Interface server on 127.0.0.1 for tests and benchmarks.

It speaks enough AMI for a listener: the banner, Login (success or "Authentication
failed", after which it hangs up like Asterisk), Ping (optionally left unanswered to
simulate a half-open connection), Logoff, CoreShowChannels (refused like for a user without write
class ``reporting`` unless the test gives the ``channels`` alive).  After a successful login it runs the test's
``handler(session)``, which replays recorded events (timestamps moved to now), writes raw
bytes split at chosen offsets, garbage, oversized lines, or drops the connection.

    async with FakeAmiServer(handler=replay_then_idle(blocks)) as server:
        config = ConnectionConfig(host=server.host, port=server.port, ...)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MESSAGE_END = b"\r\n\r\n"
TIMESTAMP_LINE = re.compile(rb"^Timestamp: (\d+(?:\.\d+)?)\r$", re.MULTILINE)

SessionHandler = Callable[["AmiSession"], Awaitable[None]]


# --- recordings -------------------------------------------------------------------------


def split_messages(data: bytes) -> list[bytes]:
    """The messages of a raw AMI stream, each with its terminating blank line; banner removed."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data[data.index(b"\r\n") + 2 :]
    blocks = [block + MESSAGE_END for block in data.split(MESSAGE_END) if block.strip()]
    return blocks


def load_recording_events(path: Path) -> list[bytes]:
    """A recording's messages as the server will send them: banner and login response stripped."""
    blocks = split_messages(path.read_bytes())
    return [block for block in blocks if not block.startswith(b"Response:")]


def event_timestamps(blocks: Iterable[bytes]) -> list[float]:
    stamps = []
    for block in blocks:
        match = TIMESTAMP_LINE.search(block)
        if match:
            stamps.append(float(match.group(1)))
    return stamps


def shift_timestamps(blocks: Sequence[bytes], delta_s: float) -> list[bytes]:
    """The blocks with every ``Timestamp:`` header moved by ``delta_s`` (relative offsets kept)."""

    def moved(match: re.Match[bytes]) -> bytes:
        return b"Timestamp: %.6f\r" % (float(match.group(1)) + delta_s)

    return [TIMESTAMP_LINE.sub(moved, block) for block in blocks]


def move_to_now(blocks: Sequence[bytes], now_s: float | None = None) -> tuple[list[bytes], float]:
    """Shift the recording so that its last event happened ``now_s`` (default: now); returns the delta too.

    Ending at now (not starting at it) means a replay at full speed describes calls that are already
    over, so a live tracker completes them after its grace period, without waiting out the recording.
    """
    stamps = event_timestamps(blocks)
    if not stamps:
        return list(blocks), 0.0
    delta_s = (time.time() if now_s is None else now_s) - max(stamps)
    return shift_timestamps(blocks, delta_s), delta_s


# --- server ---------------------------------------------------------------------------


@dataclass
class LoginAttempt:
    at_s: float
    username: str
    accepted: bool


@dataclass
class AmiSession:
    """One client connection, as seen by the server (and driven by the test's handler)."""

    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    answer_ping: bool = True
    actions: list[dict[str, str]] = field(default_factory=list)
    pings: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, data: bytes, split_at: Iterable[int] = (), pause_s: float = 0.0) -> None:
        """Write ``data``; with ``split_at`` as separate writes at those byte offsets.

        ``pause_s`` between the pieces makes each arrive as its own TCP read on loopback.
        """
        start = 0
        for offset in [*sorted(set(split_at)), len(data)]:
            if offset <= start:
                continue
            self.writer.write(data[start:offset])
            await self.writer.drain()
            if pause_s and offset < len(data):
                await asyncio.sleep(pause_s)
            start = offset

    async def send_events(self, blocks: Sequence[bytes], pace: float | None = None) -> None:
        """Send messages; ``pace`` None: full speed, else real time divided by ``pace`` (2.0 = twice as fast)."""
        if pace is None:
            self.writer.write(b"".join(blocks))
            await self.writer.drain()
            return
        stamps = [event_timestamps([block]) for block in blocks]
        started_at = time.monotonic()
        first = next((s[0] for s in stamps if s), None)
        for block, stamp in zip(blocks, stamps, strict=True):
            if stamp and first is not None:
                wait_s = (stamp[0] - first) / pace - (time.monotonic() - started_at)
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
            self.writer.write(block)
        await self.writer.drain()

    async def hang_up(self) -> None:
        """Close the connection after everything sent so far (Asterisk closing it, a manager reload)."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
        self.closed.set()

    async def drop(self) -> None:
        """Hang up abruptly (like an Asterisk restart or a broken network)."""
        self.writer.transport.abort()
        self.closed.set()

    async def wait_closed(self) -> None:
        await self.closed.wait()


class FakeAmiServer:
    def __init__(
        self,
        username: str = "pbx-sms",
        secret: str = "s3cret",
        handler: SessionHandler | None = None,
        answer_ping: bool = True,
        answer_login: bool = True,
        banner: bytes = BANNER,
        channels: Callable[[], Sequence[dict[str, str]]] | None = None,
    ) -> None:
        self.username = username
        self.channels = channels
        self.secret = secret
        self.handler = handler
        self.answer_ping = answer_ping
        self.answer_login = answer_login
        self.banner = banner
        self.host = "127.0.0.1"
        self.port = 0
        self.connections = 0
        self.logins: list[LoginAttempt] = []
        self.sessions: list[AmiSession] = []
        self.handler_errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._session_started = asyncio.Condition()

    async def start(self) -> FakeAmiServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in self.sessions:
            session.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def __aenter__(self) -> FakeAmiServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_sessions(self, count: int, timeout_s: float = 5.0) -> AmiSession:
        """Wait until ``count`` sessions have logged in; return the last one."""

        async def reached() -> None:
            async with self._session_started:
                await self._session_started.wait_for(lambda: len(self.sessions) >= count)

        await asyncio.wait_for(reached(), timeout_s)
        return self.sessions[count - 1]

    async def wait_logins(self, count: int, timeout_s: float = 5.0) -> None:
        async def reached() -> None:
            async with self._session_started:
                await self._session_started.wait_for(lambda: len(self.logins) >= count)

        await asyncio.wait_for(reached(), timeout_s)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        session = AmiSession(len(self.sessions), reader, writer, answer_ping=self.answer_ping)
        handler_task: asyncio.Task[None] | None = None
        try:
            writer.write(self.banner)
            await writer.drain()
            while True:
                action = await self._read_action(reader)
                if action is None:
                    break
                session.actions.append(action)
                name = action.get("Action", "").lower()
                action_id = action.get("ActionID", "")
                if name == "login":
                    if not self.answer_login:
                        continue
                    accepted = action.get("Username") == self.username and action.get("Secret") == self.secret
                    async with self._session_started:
                        self.logins.append(LoginAttempt(time.monotonic(), action.get("Username", ""), accepted))
                        if accepted:
                            session.index = len(self.sessions)
                            self.sessions.append(session)
                        self._session_started.notify_all()
                    if not accepted:
                        writer.write(_response("Error", action_id, Message="Authentication failed"))
                        await writer.drain()
                        break
                    writer.write(_response("Success", action_id, Message="Authentication accepted"))
                    await writer.drain()
                    if self.handler is not None:
                        handler_task = asyncio.create_task(self._run_handler(session))
                elif name == "ping":
                    session.pings += 1
                    if session.answer_ping:
                        writer.write(_response("Success", action_id, Ping="Pong", Timestamp=f"{time.time():.6f}"))
                        await writer.drain()
                elif name == "coreshowchannels":
                    writer.write(self._channel_list(action_id))
                    await writer.drain()
                elif name == "logoff":
                    writer.write(_response("Goodbye", action_id, Message="Thanks for all the fish."))
                    await writer.drain()
                    break
                else:
                    writer.write(_response("Error", action_id, Message="Invalid/unknown command"))
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if handler_task is not None:
                handler_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await handler_task
            writer.transport.abort()
            session.closed.set()
            self._tasks.discard(task)

    async def _run_handler(self, session: AmiSession) -> None:
        assert self.handler is not None
        try:
            await self.handler(session)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception as exc:  # surfaced by tests that check handler_errors
            self.handler_errors.append(exc)

    def _channel_list(self, action_id: str) -> bytes:
        if self.channels is None:
            return _response("Error", action_id, Message="Permission denied")
        channels = self.channels()
        items = [_message({"Event": "CoreShowChannel", "ActionID": action_id, **c}) for c in channels]
        done = {"Event": "CoreShowChannelsComplete", "ActionID": action_id, "ListItems": str(len(channels))}
        start = _response("Success", action_id, EventList="start", Message="Channels will follow")
        return start + b"".join(items) + _message(done)

    @staticmethod
    async def _read_action(reader: asyncio.StreamReader) -> dict[str, str] | None:
        try:
            raw = await reader.readuntil(MESSAGE_END)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        action: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                action.setdefault(key, value)
        return action


def _response(status: str, action_id: str, **headers: str) -> bytes:
    lines = [f"Response: {status}"]
    if action_id:
        lines.append(f"ActionID: {action_id}")
    lines.extend(f"{key}: {value}" for key, value in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _message(headers: dict[str, str]) -> bytes:
    return ("".join(f"{key}: {value}\r\n" for key, value in headers.items()) + "\r\n").encode()


def replay_with_drop(blocks: Sequence[bytes], drop_after: int, lost: int = 0) -> SessionHandler:
    """Send ``blocks[:drop_after]`` and drop the connection; the reconnected client gets the rest of
    the stream but the ``lost`` blocks sent meanwhile (AMI never replays what nobody heard)."""

    async def handler(session: AmiSession) -> None:
        if session.index == 0:
            await session.send_events(blocks[:drop_after])
            await session.hang_up()
        elif session.index == 1:
            await session.send_events(blocks[drop_after + lost :])

    return handler


def replay(blocks: Sequence[bytes], pace: float | None = None) -> SessionHandler:
    """A handler that sends ``blocks`` once, to the first session only, then stays connected."""

    async def handler(session: AmiSession) -> None:
        if session.index == 0:
            await session.send_events(blocks, pace)

    return handler
