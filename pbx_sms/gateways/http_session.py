"""One aiohttp session per HTTP gateway, made on first use inside the loop that sends.

The registry builds gateways before any event loop runs, and an aiohttp ``ClientSession`` belongs
to the loop it was made in: so the session is made by the first request, not by ``__init__``.
Each request has ``timeout_s`` in total (waiting for a pooled connection, connecting, writing,
reading the whole answer), of which getting a connection may take half: running out of that
raises ``aiohttp.ConnectionTimeoutError`` (nothing was sent), while the total running out raises
a plain ``TimeoutError`` whatever the phase, so it has to count as "outcome unknown" and the
connect limit must come first. Redirects are never followed. Proxies come from ``HTTP(S)_PROXY`` /
``NO_PROXY`` as before (httpx honoured them), but ``~/.netrc`` is not read: aiohttp refuses a
request whose ``Authorization`` header meets credentials found there.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

# Idle keep-alive connections are dropped after this (httpx's default). Servers close idle
# connections too; a POST on one they just closed fails with its outcome unknown, so keep it short.
KEEPALIVE_S = 5.0
# The part of the timeout that getting a connection (pool wait, DNS, TCP, TLS) may take.
CONNECT_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    reason: str
    body: bytes
    charset: str | None

    @property
    def text(self) -> str:
        """The body as text (declared charset, else UTF-8); undecodable bytes become U+FFFD."""
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.body.decode("utf-8", errors="replace")


class HttpSession:
    def __init__(self, *, timeout_s: float, max_connections: int) -> None:
        self.timeout_s = timeout_s
        self.connect_timeout_s = timeout_s * CONNECT_SHARE
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[str, str] = {}

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # A session of another (finished) loop cannot be used or closed from this one: left behind.
            connector = aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=KEEPALIVE_S)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, connect=self.connect_timeout_s),
                trust_env=False,
            )
            self._loop = loop
            self._proxies = urllib.request.getproxies_environment()
        return self._session

    def _proxy_for(self, url: str) -> str | None:
        if not self._proxies:
            return None
        parts = urlsplit(url)
        # Undocumented but in urllib since Python 3.0 (typeshed does not list it); it reads NO_PROXY.
        bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
        if parts.hostname and bypass(parts.hostname, self._proxies):
            return None
        return self._proxies.get(parts.scheme)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        """One exchange, the whole answer read. Raises ``aiohttp.ClientError`` or ``TimeoutError``
        (see ``http_errors`` for which of them mean the request never left)."""
        session = self._current()
        async with session.request(
            method,
            url,
            headers=headers,
            data=body,
            params=params,
            allow_redirects=False,
            proxy=self._proxy_for(url),
        ) as response:
            content = await response.read()
            return HttpAnswer(response.status, response.reason or "", content, response.charset)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
