"""Twilio Programmable Messaging: ``POST {base_url}/2010-04-01/Accounts/{Sid}/Messages.json``.

HTTP basic auth (Account SID, Auth Token), form fields ``To``, ``From`` (or
``MessagingServiceSid``) and ``Body``; the answer's ``sid`` is the message id.

Twilio documents no idempotency for creating a message (its error 20500 page: a retried
POST that sends an SMS "may" send it twice).  The key still goes out as
``I-Twilio-Idempotency-Token`` (harmless, and useful in Twilio's request logs), but what
prevents a double send is this: when an attempt ends without a clear answer (timeout
after the request was written, connection lost, HTTP 500/502/504, a 2xx whose body is not
a message (an HTML page from a proxy), or the send cancelled from outside, e.g. by the
worker's own timeout), the gateway remembers the key, and before it sends that key again
it lists the recipient's recent messages and returns the earlier message's sid if one
with the same body was created since the first attempt. After a restart the outbox tells
it the same (``OutgoingSms.unclear_since``: the row's unclear attempt, or the one a crash
cut short), so it looks up then too.

Error codes: 20429 (too many requests), 20503 and HTTP 5xx/429 are transient, but HTTP
500 (20500), 502 and 504 and an unreadable 2xx are unclear (looked up before a resend);
21211 (invalid To), 21614 (not a mobile number), 21610 (recipient replied STOP),
21408/21612 (region/route not enabled), 30004–30007 (blocked, unreachable, landline,
filtered) and every other 4xx are permanent.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import OrderedDict
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pbx_sms.gateways.base import OutgoingSms, SendResult
from pbx_sms.gateways.http_errors import (
    TRANSPORT_ERRORS,
    http_status_class,
    short_text,
    transport_failure,
)
from pbx_sms.gateways.http_session import HttpSession
from pbx_sms.gateways.registry import GatewayPlugin

log = logging.getLogger(__name__)

NAME = "twilio"
DEFAULT_BASE_URL = "https://api.twilio.com"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

TRANSIENT_CODES = frozenset({20429, 20500, 20503})
PERMANENT_CODES = frozenset({21211, 21408, 21610, 21612, 21614, 30004, 30005, 30006, 30007})
# HTTP answers after which Twilio may or may not have created the message.
UNCLEAR_STATUSES = frozenset({500, 502, 504})
# Clock skew allowed between this host and Twilio when matching an earlier attempt.
MATCH_SKEW_S = 120.0
MAX_REMEMBERED_KEYS = 10_000
# Connections at once (httpx's default, which this gateway had before).
MAX_CONNECTIONS = 100


class TwilioSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=1)
    base_url: str = Field(DEFAULT_BASE_URL, pattern=r"^https?://")
    # Send through a Messaging Service instead of the SMS's own sender ID.
    messaging_service_sid: str | None = Field(None, pattern=r"^MG[0-9a-fA-F]{32}$")
    status_callback: str | None = Field(None, pattern=r"^https?://")
    timeout_s: float = Field(15.0, gt=0, le=300)


def form_fields(sms: OutgoingSms, config: TwilioSettings) -> dict[str, str]:
    fields = {"To": sms.to, "Body": sms.text}
    if config.messaging_service_sid:
        fields["MessagingServiceSid"] = config.messaging_service_sid
    else:
        fields["From"] = sms.sender
    if config.status_callback:
        fields["StatusCallback"] = config.status_callback
    return fields


def interpret_response(status_code: int, body: str) -> SendResult:
    """Twilio's answer → sent / transient / unclear / permanent (pure: no I/O)."""
    result = _interpret(status_code, body)
    if result.outcome == "transient" and status_code in UNCLEAR_STATUSES:
        # Twilio may or may not have created the message before it failed.
        return SendResult.unclear(result.reason or f"Twilio HTTP {status_code}")
    return result


def _interpret(status_code: int, body: str) -> SendResult:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    status = http_status_class(status_code)
    if status == "ok":
        if isinstance(payload, dict) and isinstance(payload.get("sid"), str) and payload["sid"]:
            return SendResult.sent(payload["sid"])
        # Accepted, but not an answer we can read (a proxy's HTML page): the message may exist.
        return SendResult.unclear(f"Twilio HTTP {status_code}, unexpected answer: {short_text(body)}")
    code = payload.get("code") if isinstance(payload, dict) else None
    if isinstance(code, int):
        reason = f"Twilio error {code}: {short_text(str(payload.get('message') or 'no message'))}"
        if code in TRANSIENT_CODES:
            return SendResult.transient(reason)
        if code in PERMANENT_CODES:
            return SendResult.permanent(reason)
    else:
        reason = f"Twilio HTTP {status_code}: {short_text(body)}"
    if status == "permanent":
        return SendResult.permanent(reason)
    if status == "transient":
        return SendResult.transient(reason)
    return SendResult.transient(f"Twilio HTTP {status_code}, unexpected answer: {short_text(body)}")


def find_earlier_message(payload: Any, sms: OutgoingSms, since_epoch_s: float) -> str | None:
    """The sid of a message in a Messages list page that an earlier attempt of ``sms`` created."""
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list):
        raise ValueError("no 'messages' list in the answer")
    for message in messages:
        if not isinstance(message, dict) or message.get("to") != sms.to or message.get("body") != sms.text:
            continue
        try:
            created_s = parsedate_to_datetime(str(message.get("date_created"))).timestamp()
        except (TypeError, ValueError):
            continue
        if created_s >= since_epoch_s - MATCH_SKEW_S and message.get("sid"):
            return str(message["sid"])
    return None


class LookupFailed(Exception):
    """Twilio did not answer the Messages list with a page."""


_LOOKUP_ERRORS: tuple[type[BaseException], ...] = (*TRANSPORT_ERRORS, LookupFailed, ValueError)


class TwilioGateway:
    name = NAME
    # An attempt cut short by a crash is looked up before it is sent again (``unclear_since``).
    resend_after_crash = True

    def __init__(self, config: TwilioSettings) -> None:
        self.config = config
        self.timeout_s = config.timeout_s
        base = f"{config.base_url.rstrip('/')}/2010-04-01/Accounts/{config.account_sid}"
        self._messages_url = f"{base}/Messages.json"
        credentials = f"{config.account_sid}:{config.auth_token.get_secret_value()}".encode()
        self._authorization = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._http = HttpSession(timeout_s=config.timeout_s, max_connections=MAX_CONNECTIONS)
        # Idempotency key → time of the first attempt whose outcome is unknown.
        self._unclear: OrderedDict[str, float] = OrderedDict()

    def __repr__(self) -> str:
        return f"TwilioGateway(account_sid={self.config.account_sid!r}, base_url={self.config.base_url!r})"

    async def send(self, sms: OutgoingSms) -> SendResult:
        since = self._unclear.get(sms.idempotency_key)
        if since is None and sms.unclear_since is not None:
            since = sms.unclear_since.timestamp()
        if since is not None:
            earlier = await self._check_earlier_attempt(sms, since)
            if earlier is not None:
                return earlier
        # Unclear until the answer says otherwise: a send cancelled midway (the worker's timeout,
        # a shutdown) may have created the message, so its retry looks first.
        self._remember_unclear(sms.idempotency_key, time.time())
        result = await self._create(sms)
        if result.outcome != "unclear":
            self._unclear.pop(sms.idempotency_key, None)
        if result.outcome != "sent":
            log.warning("twilio: %s (key %s): %s", result.outcome, sms.idempotency_key, result.reason)
        return result

    async def _create(self, sms: OutgoingSms) -> SendResult:
        headers = {
            "Authorization": self._authorization,
            "Content-Type": "application/x-www-form-urlencoded",
            IDEMPOTENCY_HEADER: sms.idempotency_key,
        }
        body = urlencode(form_fields(sms, self.config)).encode("ascii")
        try:
            answer = await self._http.request("POST", self._messages_url, headers=headers, body=body)
        except TRANSPORT_ERRORS as exc:
            return transport_failure(NAME, exc)
        return interpret_response(answer.status, answer.text)

    async def _check_earlier_attempt(self, sms: OutgoingSms, since: float) -> SendResult | None:
        """sent(sid) if an unclear earlier attempt went out, transient if that cannot be told, else None."""
        headers = {"Authorization": self._authorization}
        try:
            answer = await self._http.request(
                "GET", self._messages_url, headers=headers, params={"To": sms.to, "PageSize": "50"}
            )
            if http_status_class(answer.status) != "ok":
                raise LookupFailed(f"HTTP {answer.status}")
            sid = find_earlier_message(json.loads(answer.body), sms, since)
        except _LOOKUP_ERRORS as exc:
            detail = str(exc) if isinstance(exc, LookupFailed) else type(exc).__name__
            reason = f"twilio: cannot check whether an earlier attempt was sent ({detail})"
            log.warning("%s (key %s); not sending blind", reason, sms.idempotency_key)
            return SendResult.transient(reason)
        if sid is None:
            self._unclear.pop(sms.idempotency_key, None)
            return None
        log.info("twilio: earlier attempt of key %s was sent as %s; not sending again", sms.idempotency_key, sid)
        self._unclear.pop(sms.idempotency_key, None)
        return SendResult.sent(sid)

    def _remember_unclear(self, key: str, started: float) -> None:
        self._unclear.setdefault(key, started)
        self._unclear.move_to_end(key)
        while len(self._unclear) > MAX_REMEMBERED_KEYS:
            self._unclear.popitem(last=False)

    async def close(self) -> None:
        await self._http.close()


# Where ``pbx-sms web`` takes Twilio's status callbacks (under PBX_SMS_WEB_PUBLIC_URL).
STATUS_CALLBACK_PATH = "/hooks/twilio/status"


def with_status_callback(config: TwilioSettings, public_url: str) -> TwilioSettings:
    """``config`` with its StatusCallback: the explicit setting, else the public URL's status path."""
    if config.status_callback is not None or not public_url:
        return config
    return config.model_copy(update={"status_callback": public_url.rstrip("/") + STATUS_CALLBACK_PATH})


# Entry point ``pbx_sms.gateways: twilio``.
create = GatewayPlugin(
    NAME,
    TwilioSettings,
    lambda config, settings: TwilioGateway(with_status_callback(config, settings.web.public_url)),
)
