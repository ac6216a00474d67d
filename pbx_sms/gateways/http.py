"""The ``http`` gateway: a generic JSON webhook.

POST ``{"id", "to", "from", "text"}`` (``id`` = the idempotency key) to ``PBX_SMS_HTTP_URL`` with an
``Idempotency-Key`` header and, if ``PBX_SMS_HTTP_TOKEN`` is set, ``Authorization: Bearer``.
2xx = sent (message id from the JSON field ``PBX_SMS_HTTP_ID_FIELD``, default ``id``; dotted for nested
fields, e.g. ``data.id``); 408, 429, 5xx, timeouts and connection errors = transient (the reason says
whether the request never left or its outcome is unknown); other 4xx and 3xx (redirects are not
followed) = permanent. The token never appears in logs or results. ``PBX_SMS_HTTP_TIMEOUT_S`` (default 10) and
``PBX_SMS_HTTP_MAX_CONNECTIONS`` (default 16, also the number of sends at once) tune it.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from pbx_sms.config import Settings
from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.gateways.http_errors import TRANSPORT_ERRORS, error_kind, request_not_sent
from pbx_sms.gateways.http_session import HttpAnswer, HttpSession
from pbx_sms.gateways.registry import GatewayPlugin

log = logging.getLogger(__name__)

NAME = "http"
_TRANSIENT_STATUSES = frozenset({408, 429})
_BODY_EXCERPT_CHARS = 200


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    token: SecretStr | None = None
    id_field: str = "id"
    timeout_s: float = Field(10.0, gt=0)
    max_connections: int = Field(16, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = value.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http:// or https:// URL with a host")
        return url

    @field_validator("id_field")
    @classmethod
    def _id_field_or_default(cls, value: str) -> str:
        return value.strip() or "id"


class HttpGateway:
    name = NAME

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
        self.timeout_s = timeout_s
        # The worker keeps at most this many sends in flight, so none waits for a connection here,
        # where the wait would count against the send's timeout.
        self.max_concurrency = max_connections
        self._token = token or None
        self._id_path = tuple(id_field.split("."))
        self._http = HttpSession(timeout_s=timeout_s, max_connections=max_connections)

    async def send(self, sms: OutgoingSms) -> SendResult:
        payload = {"id": sms.idempotency_key, "to": sms.to, "from": sms.sender, "text": sms.text}
        headers = {"Content-Type": "application/json", "Idempotency-Key": sms.idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            answer = await self._http.request("POST", self.url, headers=headers, body=body)
        except TRANSPORT_ERRORS as exc:
            return SendResult.transient(self._transport_problem(exc))
        status = answer.status
        if 200 <= status < 300:
            return SendResult.sent(self._message_id(answer, sms))
        problem = f"HTTP {status}: {self._excerpt(answer)}"
        if status >= 500 or status in _TRANSIENT_STATUSES:
            return SendResult.transient(problem)
        return SendResult.permanent(problem)

    def _transport_problem(self, exc: BaseException) -> str:
        if request_not_sent(exc):
            if isinstance(exc, TimeoutError):
                return f"no connection within {self._http.connect_timeout_s:g} s, not sent"
            return f"connection failed, not sent: {error_kind(exc)}: {self._clean(str(exc))}"
        if isinstance(exc, TimeoutError):
            return f"no answer within {self.timeout_s:g} s, outcome unknown"
        return f"connection lost, outcome unknown: {error_kind(exc)}: {self._clean(str(exc))}"

    def _message_id(self, answer: HttpAnswer, sms: OutgoingSms) -> str | None:
        # The SMS is out whatever the body says: an odd body costs the message id, never a resend.
        try:
            value: Any = json.loads(answer.body)
        except ValueError:  # not JSON, or not in a Unicode encoding
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

    def _excerpt(self, answer: HttpAnswer) -> str:
        # Cleaned before it is cut: a cut through the token would leave a piece of it.
        body = self._clean(answer.text.strip().replace("\n", " "))
        if len(body) > _BODY_EXCERPT_CHARS:
            body = body[:_BODY_EXCERPT_CHARS] + "…"
        return body or answer.reason or "no body"

    def _clean(self, message: str) -> str:
        return message.replace(self._token, "***") if self._token else message

    async def close(self) -> None:
        await self._http.close()


def _build(config: HttpSettings, _settings: Settings) -> HttpGateway:
    return HttpGateway(
        config.url,
        token=config.token.get_secret_value() if config.token else None,
        id_field=config.id_field,
        timeout_s=config.timeout_s,
        max_connections=config.max_connections,
    )


# Entry point ``pbx_sms.gateways: http``.
create = GatewayPlugin(NAME, HttpSettings, _build)
