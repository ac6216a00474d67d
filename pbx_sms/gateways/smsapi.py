"""SMSAPI.pl (SMSAPI.com): ``POST {base_url}/sms.do`` with a bearer token.

A retry never sends twice: every request carries ``idx`` = the outbox row's idempotency key
with ``check_idx=1``, and SMSAPI refuses a second message with an ``idx`` it accepted in the
last four days with error 53, which therefore means "already sent".

Error codes (SMSAPI's list, "Kody błędów") and what the outbox does with them:

=====================================  =========================================================
transient (retried with backoff)       8 request error, 52 too many attempts to one number in
                                       60 s, 200 send failed (retry), 201/999 internal error,
                                       202/203 too many requests; HTTP 5xx, 408, 429; timeouts,
                                       connection errors; an answer that cannot be read
sent                                   53 ``idx`` already used (the first attempt went out)
permanent (never retried)              every other code, e.g. 11 text too long/empty,
                                       12 more parts than max_parts, 13 no valid number
                                       (invalid, landline, blacklisted), 14 invalid sender,
                                       57 number on the account's blacklist, 101 bad
                                       authorization, 102 bad login, 103 no points,
                                       105 IP not allowed, 110 service not on the account
=====================================  =========================================================
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.gateways.http_errors import TRANSPORT_ERRORS, http_status_class, short_text, transport_failure
from pbx_sms.gateways.http_session import HttpSession
from pbx_sms.gateways.registry import GatewayPlugin

log = logging.getLogger(__name__)

NAME = "smsapi"
DEFAULT_BASE_URL = "https://api.smsapi.pl"

# Connections at once (httpx's default, which this gateway had before).
MAX_CONNECTIONS = 100

DUPLICATE_IDX = 53
TRANSIENT_CODES = frozenset({8, 52, 200, 201, 202, 203, 999})


class SmsapiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(min_length=1)
    base_url: str = Field(DEFAULT_BASE_URL, pattern=r"^https?://")
    # SMSAPI's own number normalisation (national → international).
    normalize: bool = False
    # SMSAPI validates the request and answers as usual but sends nothing and charges nothing.
    test: bool = False
    timeout_s: float = Field(15.0, gt=0, le=300)
    # Where SMSAPI sends this message's delivery reports (sent as ``notify_url`` with each SMS):
    # PBX_SMS_WEB_PUBLIC_URL/hooks/smsapi/PBX_SMS_WEB_HOOK_TOKEN/status. It holds the hook token,
    # hence secret. Empty: the account's callback address in SMSAPI's panel, if any, is used.
    notify_url: SecretStr = SecretStr("")

    @field_validator("notify_url")
    @classmethod
    def _notify_url_is_http(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// address")
        return value


def form_fields(sms: OutgoingSms, config: SmsapiSettings) -> dict[str, str]:
    """The form SMSAPI's sms.do expects for one message (the token goes in a header)."""
    fields = {
        "to": sms.to.removeprefix("+"),
        "message": sms.text,
        "format": "json",
        "encoding": "utf-8",
        "idx": sms.idempotency_key,
        "check_idx": "1",
    }
    if sms.sender:
        fields["from"] = sms.sender
    if config.normalize:
        fields["normalize"] = "1"
    if config.test:
        fields["test"] = "1"
    if notify_url := config.notify_url.get_secret_value():
        fields["notify_url"] = notify_url
    return fields


def result_for_error(code: int, message: str) -> SendResult:
    if code == DUPLICATE_IDX:
        return SendResult.sent(None)
    reason = f"SMSAPI error {code}: {short_text(message) or 'no message'}"
    if code in TRANSIENT_CODES:
        return SendResult.transient(reason)
    return SendResult.permanent(reason)


def interpret_response(status_code: int, body: str) -> SendResult:
    """SMSAPI's answer → sent / transient / permanent (pure: no I/O)."""
    payload: Any
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        try:
            code = int(payload["error"])
        except (TypeError, ValueError):
            code = None
        if code is not None:
            return result_for_error(code, str(payload.get("message") or ""))
    status = http_status_class(status_code)
    if status == "ok" and isinstance(payload, dict):
        items = payload.get("list")
        if isinstance(items, list) and items and isinstance(items[0], dict) and items[0].get("id"):
            return SendResult.sent(str(items[0]["id"]))
    if status == "permanent":
        return SendResult.permanent(f"SMSAPI HTTP {status_code}: {short_text(body)}")
    # A 2xx without a message id, a 5xx, or something else: idx makes a retry safe.
    return SendResult.transient(f"SMSAPI HTTP {status_code}, unexpected answer: {short_text(body)}")


class SmsapiGateway:
    name = NAME
    # ``idx`` + ``check_idx``: SMSAPI refuses a key it accepted (error 53), so a resend cannot send twice.
    resend_after_crash = True

    def __init__(self, config: SmsapiSettings) -> None:
        self.config = config
        self.timeout_s = config.timeout_s
        self._url = config.base_url.rstrip("/") + "/sms.do"
        self._http = HttpSession(timeout_s=config.timeout_s, max_connections=MAX_CONNECTIONS)

    def __repr__(self) -> str:
        return f"SmsapiGateway(base_url={self.config.base_url!r})"

    async def send(self, sms: OutgoingSms) -> SendResult:
        headers = {
            "Authorization": f"Bearer {self.config.token.get_secret_value()}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        body = urlencode(form_fields(sms, self.config)).encode("ascii")
        try:
            answer = await self._http.request("POST", self._url, headers=headers, body=body)
        except TRANSPORT_ERRORS as exc:
            result = transport_failure(NAME, exc)
            log.warning("smsapi: %s (idx %s)", result.reason, sms.idempotency_key)
            return result
        result = interpret_response(answer.status, answer.text)
        if result.outcome == "sent" and result.message_id is None:
            log.info("smsapi: idx %s was already accepted earlier; not sent again", sms.idempotency_key)
        elif result.outcome != "sent":
            log.warning("smsapi: %s (idx %s): %s", result.outcome, sms.idempotency_key, result.reason)
        return result

    async def close(self) -> None:
        await self._http.close()


# Entry point ``pbx_sms.gateways: smsapi``.
create = GatewayPlugin(NAME, SmsapiSettings, lambda config, _settings: SmsapiGateway(config))
