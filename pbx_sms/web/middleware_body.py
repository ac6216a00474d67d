"""Request bodies over ``PBX_SMS_WEB_MAX_BODY_BYTES`` are refused with 413 before they are read whole.

A declared Content-Length over the limit is refused before the app runs; a chunked body (no length)
is counted as it arrives and refused once it passes the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pbx_sms.web.errors import ApiError, error_response


def _too_large(max_bytes: int) -> str:
    return f"request body too large: at most {max_bytes} bytes (PBX_SMS_WEB_MAX_BODY_BYTES)"


class BodyTooLarge(HTTPException):
    """Raised while the app reads the body; an HTTPException, so FastAPI's body parsing passes it on
    as it is (any other exception there becomes a 400) and its handler answers 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _too_large(max_bytes))


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None  # the server refuses a malformed one itself
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await error_response(ApiError(413, _too_large(self.max_bytes)))(scope, receive, send)
            return
        received_bytes = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received_bytes
            message = await receive()
            if message["type"] == "http.request":
                received_bytes += len(message.get("body", b""))
                if received_bytes > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Read outside FastAPI's body parsing (by a middleware, a streaming route): answered here.
            if started:
                raise
            await error_response(ApiError(413, _too_large(self.max_bytes)))(scope, receive, send)
