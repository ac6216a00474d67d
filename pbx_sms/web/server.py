"""`pbx-sms web` on uvicorn: one process, one event loop, until SIGTERM or SIGINT.

On a stop signal uvicorn stops accepting connections and lets the requests in flight finish (for at
most ``GRACEFUL_STOP_S``). Its access log stays off: ``web.middleware_requests`` writes one line per
request, without the query string, tokens or cookies.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from pbx_sms.web.app import create_app
from pbx_sms.web.context import WebContext

log = logging.getLogger(__name__)

GRACEFUL_STOP_S = 30
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
MAX_SHOWN_HOST = 100
LISTEN_BACKLOG = 2048  # uvicorn's own default
TRUSTED_PROXIES = "127.0.0.1,::1"


class ListenError(Exception):
    """The server cannot listen where asked; the message says where and what to change."""


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound here rather than by uvicorn (which exits the process on an error): the error is ours to word."""
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle off (TCP_NODELAY) only on connections whose
    # socket says TCP, and with it on each answer waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait for TIME_WAIT
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except (OSError, ValueError, TypeError) as exc:  # TypeError: a NUL in the host
        sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        shown = host if len(host) <= MAX_SHOWN_HOST else host[:MAX_SHOWN_HOST] + "..."
        raise ListenError(
            f"cannot listen on host {shown!r} port {port}: {reason} "
            "(set --host/--port or PBX_SMS_WEB_HOST/PBX_SMS_WEB_PORT)"
        ) from None
    return sock


def serve(context: WebContext, host: str, port: int) -> None:
    """Serve the app on ``host:port`` until a stop signal; returns once the requests in flight are done."""
    sock = listening_socket(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    log.info("pbx-sms web listening on http://%s:%d", shown_host, port, extra={"host": host, "port": port})
    config = uvicorn.Config(
        create_app(context),
        access_log=False,
        log_config=None,  # the process's logging (pbx_sms.logs) as it is
        server_header=False,
        # X-Forwarded-For names the client (the login throttle's address) only when a proxy on this
        # host sent it; uvicorn's own default would also follow $FORWARDED_ALLOW_IPS.
        forwarded_allow_ips=TRUSTED_PROXIES,
        timeout_graceful_shutdown=GRACEFUL_STOP_S,
    )
    with sock, _stop_is_an_ordinary_end():
        uvicorn.Server(config).run(sockets=[sock])


@contextmanager
def _stop_is_an_ordinary_end() -> Iterator[None]:
    """uvicorn handles the stop signal and, once stopped, raises it again for the handler it found:
    with these no-op handlers that ends the process normally (exit 0), as a requested stop should."""

    def _ignore(_signal: int, _frame: FrameType | None) -> None:
        return None

    previous = {stop: signal.signal(stop, _ignore) for stop in STOP_SIGNALS}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
