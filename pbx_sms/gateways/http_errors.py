"""What a failed HTTP exchange means for an SMS: never sent, or sent but the answer was lost.

The first is transient, the second unclear (the outbox retries both, and counts an unclear attempt
as sent for its limits meanwhile); the reason says which, because only a
gateway with server-side idempotency (SMSAPI ``idx``) makes the second kind safe to retry,
and Twilio looks up an unclear attempt before it sends again.
"""

from __future__ import annotations

import aiohttp

from pbx_sms.gateways.base import SendResult

# What an aiohttp request raises when the exchange fails (a total timeout is a plain TimeoutError).
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, TimeoutError)

# The request never reached the server: a retry cannot send twice. ClientConnectorError covers
# refused connections, DNS, TLS handshakes and proxies; ConnectionTimeoutError is the timeout
# running out while connecting or while waiting for a free pooled connection.
NOT_SENT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.ClientHttpProxyError,
    aiohttp.InvalidURL,
    aiohttp.NonHttpUrlClientError,
)


def request_not_sent(exc: BaseException) -> bool:
    return isinstance(exc, NOT_SENT_ERRORS)


def error_kind(exc: BaseException) -> str:
    return type(exc).__name__


def transport_failure(gateway: str, exc: BaseException) -> SendResult:
    """A transient result for a failed HTTP exchange; the reason names no URL or credentials."""
    if request_not_sent(exc):
        return SendResult.transient(f"{gateway}: cannot reach the API ({error_kind(exc)})")
    return SendResult.unclear(f"{gateway}: no answer from the API, outcome unknown ({error_kind(exc)})")


def http_status_class(status_code: int) -> str:
    """'transient' for 5xx/429/408, 'permanent' for other 4xx, 'ok' for 2xx, 'unexpected' otherwise."""
    if 200 <= status_code < 300:
        return "ok"
    if status_code >= 500 or status_code in (408, 429):
        return "transient"
    if 400 <= status_code < 500:
        return "permanent"
    return "unexpected"


def short_text(body: str, limit: int = 200) -> str:
    """A response body cut to size for a reason or a log line."""
    body = " ".join(body.split())
    return body if len(body) <= limit else body[: limit - 1] + "…"
