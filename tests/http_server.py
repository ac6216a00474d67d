"""A loopback HTTP/1.1 server for tests: records every request and answers as told.

It runs its own event loop in a thread, so it serves the test's event loop and other processes alike.
``reply`` decides each answer: a fixed status/body, ``HANG`` (never answer), or a function of the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HANG = "hang"


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay_s: float = 0.0


Responder = Callable[[Recorded], "Reply | str"]
_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


@dataclass
class LoopbackHttpServer:
    requests: list[Recorded] = field(default_factory=list)
    _responder: Responder | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None
    _port: int = 0
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/sms"

    def reply(self, status: int = 200, body: bytes | str | dict[str, Any] = b"", content_type: str = "") -> None:
        """Answer every request from now on with this status and body (a dict is sent as JSON)."""
        if isinstance(body, dict):
            payload, kind = json.dumps(body).encode(), content_type or "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else body
            kind = content_type or "text/plain"
        fixed = Reply(status, payload, kind)
        self._responder = lambda _request: fixed

    def hang(self) -> None:
        self._responder = lambda _request: HANG

    def respond_with(self, responder: Responder) -> None:
        self._responder = responder

    def reset(self) -> None:
        """Back to the default: 200 with ``{"id": "msg-N"}``."""
        self._responder = None

    def _answer(self, request: Recorded) -> Reply | str:
        if self._responder is not None:
            return self._responder(request)
        return Reply(200, json.dumps({"id": f"msg-{next(self._ids)}"}).encode())

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackHttpServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024))
            self._port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="loopback-http", daemon=True)
        self._thread.start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        self._loop = None

    def __enter__(self) -> LoopbackHttpServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- HTTP --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while request := await self._read_request(reader):
                self.requests.append(request)
                answer = self._answer(request)
                if answer == HANG:
                    await asyncio.sleep(3600)
                    return
                assert isinstance(answer, Reply)
                if answer.delay_s:
                    await asyncio.sleep(answer.delay_s)
                reason = _REASONS.get(answer.status, "Status")
                head = (
                    f"HTTP/1.1 {answer.status} {reason}\r\nContent-Type: {answer.content_type}\r\n"
                    f"Content-Length: {len(answer.body)}\r\n\r\n"
                )
                writer.write(head.encode() + answer.body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the server is stopping
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> Recorded | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Recorded(method, path, headers, body, time.time())


def main() -> None:
    """Serve in a process of its own (benchmarks: no GIL shared with the client).

    Prints the URL, serves 200s until standard input closes, then prints one JSON array of
    ``[id, received_at]`` for every request and exits.
    """
    import sys

    server = LoopbackHttpServer().start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()
    print(json.dumps([[request.json["id"], request.received_at] for request in server.requests]), flush=True)


if __name__ == "__main__":
    main()
