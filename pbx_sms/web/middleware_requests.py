"""Every request of `pbx-sms web` gets an id (``X-Request-Id``) and one log line; an unhandled error
becomes a 500 naming that id, with the traceback in the log only.

The log line holds the method, the path without its query string, the status, the user (when the
guard identified one), the duration and the request id: never a header, a cookie, a query or a body,
so no token, password or session id can reach the log through it.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pbx_sms.web.guard import USER_NAME_STATE
from pbx_sms.web.hooks import redacted_path

log = logging.getLogger("pbx_sms.web.requests")

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_STATE = "request_id"  # request.state.request_id, for routes that name it
MAX_LOGGED_PATH = 200  # a path is the client's text: a 16 KiB one must not make a 16 KiB log line


def new_request_id() -> str:
    return secrets.token_hex(8)


def logged_path(path: str) -> str:
    path = redacted_path(path)
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


def internal_error(request_id: str) -> JSONResponse:
    return JSONResponse({"detail": "internal error", "request_id": request_id}, status_code=500)


class RequestMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): it sees the exceptions the app's handlers did not turn into an answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        state: dict[str, Any] = scope.setdefault("state", {})
        state[REQUEST_ID_STATE] = request_id
        started_s = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "request %s failed: %s %s",
                request_id,
                scope["method"],
                logged_path(scope["path"]),
                extra={"request_id": request_id},
            )
            if status is None:
                await internal_error(request_id)(scope, receive, send_with_id)
            # else the answer had begun: the client gets it cut short, which is all that can be done
        finally:
            _log_request(scope, status, state.get(USER_NAME_STATE), time.perf_counter() - started_s, request_id)


def _log_request(scope: Scope, status: int | None, user: str | None, duration_s: float, request_id: str) -> None:
    method, path, duration_ms = scope["method"], logged_path(scope["path"]), round(duration_s * 1000, 1)
    log.info(
        "%s %s %s %s %.1f ms [%s]",
        method,
        path,
        status if status is not None else "-",  # none: the client went away before an answer
        user or "-",
        duration_ms,
        request_id,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "user": user,
            "duration_ms": duration_ms,
            "request_id": request_id,
        },
    )
