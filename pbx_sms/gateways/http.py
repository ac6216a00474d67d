"""The ``http`` gateway: a generic JSON webhook.

POST ``{"id", "to", "from", "text"}`` (``id`` = the idempotency key) to ``PBX_SMS_HTTP_URL`` with an
``Idempotency-Key`` header and, if ``PBX_SMS_HTTP_TOKEN`` is set, ``Authorization: Bearer``.
2xx = sent (message id from the JSON field ``PBX_SMS_HTTP_ID_FIELD``, default ``id``; dotted for nested
fields, e.g. ``data.id``); 408, 429, 5xx, timeouts and connection errors = transient; other 4xx =
permanent. The token never appears in logs or results. ``PBX_SMS_HTTP_TIMEOUT_S`` (default 10) and
``PBX_SMS_HTTP_MAX_CONNECTIONS`` (default 16, also the number of sends at once) tune it.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from pbx_sms.gateways.base import GatewayConfigError, OutgoingSms, SendResult

if TYPE_CHECKING:
    from pbx_sms.config import Settings

log = logging.getLogger(__name__)

_TRANSIENT_STATUSES = frozenset({408, 429})
_BODY_EXCERPT_CHARS = 200


class HttpGateway:
    name = "http"

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        id_field: str = "id",
        timeout_s: float = 10.0,
        max_connections: int = 16,
    ) -> None:
        self.url = url
        # Parsed once: httpx would parse a string URL again for every request.
        self._url = httpx.URL(url)
        self.timeout_s = timeout_s
        # The worker keeps at most this many sends in flight. httpx's pool gets slower with every
        # queued request and every extra connection: a few busy keep-alive connections go fastest.
        self.max_concurrency = max_connections
        self._token = token or None
        self._id_path = tuple(id_field.split("."))
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client = httpx.AsyncClient(timeout=timeout_s, limits=limits, follow_redirects=False)

    async def send(self, sms: OutgoingSms) -> SendResult:
        payload = {"id": sms.idempotency_key, "to": sms.to, "from": sms.sender, "text": sms.text}
        headers = {"Idempotency-Key": sms.idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = await self._client.post(self._url, json=payload, headers=headers)
        except httpx.TimeoutException:
            return SendResult.transient(f"no answer within {self.timeout_s:g} s")
        except httpx.TransportError as exc:
            return SendResult.transient(f"connection failed: {type(exc).__name__}: {self._clean(str(exc))}")
        status = response.status_code
        if 200 <= status < 300:
            return SendResult.sent(self._message_id(response, sms))
        problem = f"HTTP {status}: {self._excerpt(response)}"
        if status >= 500 or status in _TRANSIENT_STATUSES:
            return SendResult.transient(problem)
        return SendResult.permanent(problem)

    def _message_id(self, response: httpx.Response, sms: OutgoingSms) -> str | None:
        # The SMS is out whatever the body says: an odd body costs the message id, never a resend.
        try:
            value: Any = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("http gateway: 2xx for %s without a JSON body; no message id", sms.idempotency_key)
            return None
        for key in self._id_path:
            if not isinstance(value, dict) or key not in value:
                log.warning(
                    "http gateway: 2xx for %s without the field %r; no message id",
                    sms.idempotency_key,
                    ".".join(self._id_path),
                )
                return None
            value = value[key]
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)[:200]
        log.warning("http gateway: 2xx for %s with a non-scalar message id; ignored", sms.idempotency_key)
        return None

    def _excerpt(self, response: httpx.Response) -> str:
        body = response.text.strip().replace("\n", " ")
        if len(body) > _BODY_EXCERPT_CHARS:
            body = body[:_BODY_EXCERPT_CHARS] + "…"
        return self._clean(body) or response.reason_phrase or "no body"

    def _clean(self, message: str) -> str:
        return message.replace(self._token, "***") if self._token else message

    async def close(self) -> None:
        await self._client.aclose()


def _float_setting(section: dict[str, str], key: str, default: float) -> float:
    raw = section.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise GatewayConfigError(f"PBX_SMS_HTTP_{key.upper()}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise GatewayConfigError(f"PBX_SMS_HTTP_{key.upper()}: expected a number above 0, got {raw!r}")
    return value


def create(settings: Settings) -> HttpGateway:
    section = settings.section("http")
    url = section.get("url", "").strip()
    if not url:
        raise GatewayConfigError("PBX_SMS_HTTP_URL: required by the http gateway (the webhook's http(s) URL)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GatewayConfigError("PBX_SMS_HTTP_URL: expected an http:// or https:// URL with a host")
    return HttpGateway(
        url,
        token=section.get("token"),
        id_field=section.get("id_field", "id").strip() or "id",
        timeout_s=_float_setting(section, "timeout_s", 10.0),
        max_connections=int(_float_setting(section, "max_connections", 16)),
    )
