"""The ``http`` gateway: a generic JSON webhook.

POST ``{"id", "to", "from", "text"}`` (``id`` = the idempotency key) to ``PBX_SMS_HTTP_URL`` with an
``Idempotency-Key`` header and, if ``PBX_SMS_HTTP_TOKEN`` is set, ``Authorization: Bearer``.

What the answer means (``interpret_answer``, documented in docs/gateways.md):

- sent: a 2xx whose body is empty, or a JSON object without an error indication (``error`` or
  ``errors`` present and not null/false/0/empty, ``success`` or ``ok`` false, ``status`` one of
  error, failed, failure, fail, rejected). The message id is the JSON field ``PBX_SMS_HTTP_ID_FIELD``
  (default ``id``; dotted for nested fields, e.g. ``data.id``), none if the field is missing.
- permanent: a 2xx JSON object with an error indication (the webhook refused this SMS; it would
  refuse it again), 3xx (redirects are not followed) and 4xx other than 408 and 429.
- transient: 408, 429, 5xx, connection errors before the request left, and a 2xx with any other body
  (HTML, not JSON, a JSON list): whatever answered, it did not say the SMS was taken, so it is sent
  again with the same ``id``.
- unclear: a timeout or a connection lost after the request was written (it may have gone out):
  counted as sent by the limits, and retried with the same ``id``.

``PBX_SMS_HTTP_TIMEOUT_S`` (default 10) and ``PBX_SMS_HTTP_MAX_CONNECTIONS`` (default 16, also the
number of sends at once) tune it; ``PBX_SMS_HTTP_RESEND_AFTER_CRASH`` (default false) sends an attempt
cut short by a crash again instead of holding it as unclear for an operator.
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
from pbx_sms.gateways.http_session import HttpSession
from pbx_sms.gateways.registry import GatewayPlugin

log = logging.getLogger(__name__)

NAME = "http"
_TRANSIENT_STATUSES = frozenset({408, 429})
_BODY_EXCERPT_CHARS = 200
# The values of "error"/"errors" that mean no error (a missing key reads as None).
_NO_ERROR: tuple[Any, ...] = (None, False, 0, "", [], {})
_ERROR_STATUSES = frozenset({"error", "failed", "failure", "fail", "rejected"})


class HttpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    token: SecretStr | None = None
    id_field: str = "id"
    timeout_s: float = Field(10.0, gt=0)
    max_connections: int = Field(16, gt=0)
    # A generic webhook deduplicates nothing we know of: an attempt cut short by a crash is held as
    # unclear for an operator unless this says send it again (at least once).
    resend_after_crash: bool = False
    # Signs the delivery reports the webhook posts to /hooks/http/status (web/hooks/delivery_http.py);
    # without it that callback is off.
    callback_secret: SecretStr | None = None

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
        resend_after_crash: bool = False,
    ) -> None:
        self.url = url
        self.resend_after_crash = resend_after_crash
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
            problem = self._transport_problem(exc)
            return SendResult.transient(problem) if request_not_sent(exc) else SendResult.unclear(problem)
        result = interpret_answer(answer.status, answer.text if answer.body.strip() else "", self._id_path)
        if result.outcome == "sent" and result.message_id is None and answer.body.strip():
            log.warning(
                "http gateway: 2xx for %s without a message id in the field %r",
                sms.idempotency_key,
                ".".join(self._id_path),
            )
        return result

    def _transport_problem(self, exc: BaseException) -> str:
        if request_not_sent(exc):
            if isinstance(exc, TimeoutError):
                return f"no connection within {self._http.connect_timeout_s:g} s, not sent"
            return f"connection failed, not sent: {error_kind(exc)}: {exc}"
        if isinstance(exc, TimeoutError):
            return f"no answer within {self.timeout_s:g} s, outcome unknown"
        return f"connection lost, outcome unknown: {error_kind(exc)}: {exc}"

    async def close(self) -> None:
        await self._http.close()


def interpret_answer(status: int, body: str, id_path: tuple[str, ...] = ("id",)) -> SendResult:
    """The webhook's answer → sent / transient / permanent (pure; the rule is in the module docstring)."""
    if not 200 <= status < 300:
        problem = f"HTTP {status}: {excerpt(body) or 'no body'}"
        if status >= 500 or status in _TRANSIENT_STATUSES:
            return SendResult.transient(problem)
        return SendResult.permanent(problem)
    if not body.strip():
        return SendResult.sent(None)
    try:
        value: Any = json.loads(body)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return SendResult.transient(f"HTTP {status} but not a JSON object, outcome unknown: {excerpt(body)}")
    if says_error(value):
        return SendResult.permanent(f"HTTP {status} with an error: {excerpt(body)}")
    return SendResult.sent(message_id(value, id_path))


def says_error(answer: dict[str, Any]) -> bool:
    """Whether a 2xx JSON answer reports an error (the documented indications)."""
    if any(answer.get(key) not in _NO_ERROR for key in ("error", "errors")):
        return True
    if any(answer.get(key, True) is False for key in ("success", "ok")):
        return True
    status = answer.get("status")
    return isinstance(status, str) and status.strip().lower() in _ERROR_STATUSES


def message_id(answer: dict[str, Any], id_path: tuple[str, ...]) -> str | None:
    value: Any = answer
    for key in id_path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)[:200] or None
    return None


def excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= _BODY_EXCERPT_CHARS else text[:_BODY_EXCERPT_CHARS] + "…"


def _build(config: HttpSettings, _settings: Settings) -> HttpGateway:
    return HttpGateway(
        config.url,
        token=config.token.get_secret_value() if config.token else None,
        id_field=config.id_field,
        timeout_s=config.timeout_s,
        max_connections=config.max_connections,
        resend_after_crash=config.resend_after_crash,
    )


# Entry point ``pbx_sms.gateways: http``.
create = GatewayPlugin(NAME, HttpSettings, _build)
