"""What an httpx failure means for an SMS: never sent, or sent but the answer was lost.

Both are transient (the outbox retries), but the reason says which, because only a
gateway with server-side idempotency (SMSAPI ``idx``) makes the second kind safe to retry.
"""

from __future__ import annotations

import httpx

from pbx_sms.gateways.base import SendResult

# The request never reached the server: a retry cannot send twice.
NOT_SENT_ERRORS: tuple[type[httpx.HTTPError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def request_not_sent(exc: httpx.HTTPError) -> bool:
    return isinstance(exc, NOT_SENT_ERRORS)


def transport_failure(gateway: str, exc: httpx.HTTPError) -> SendResult:
    """A transient result for a failed HTTP exchange; the reason names no URL credentials."""
    kind = type(exc).__name__
    if request_not_sent(exc):
        return SendResult.transient(f"{gateway}: cannot reach the API ({kind})")
    return SendResult.transient(f"{gateway}: no answer from the API, outcome unknown ({kind})")


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
