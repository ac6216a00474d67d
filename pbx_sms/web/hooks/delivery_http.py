"""The generic http gateway's delivery reports: POST /hooks/http/status.

The webhook posts JSON ``{"id": "<the message id it answered the send with>", "status":
"delivered", "error": null}``; ``status`` is one of core.delivery's reported statuses (queued,
sending, sent, accepted, delivered, undelivered, expired, rejected); ``error`` a string or null,
stored as the report's code. It signs each request with the shared secret
PBX_SMS_HTTP_CALLBACK_SECRET: header ``X-PBX-SMS-Timestamp`` (Unix seconds) and
``X-PBX-SMS-Signature``, the hex HMAC-SHA256 of ``timestamp "\\n" path "\\n" body``
(core.hook_signatures.http_signature), the path being the public one the webhook called. A request
unsigned, wrongly signed, signed for another path or timestamped more than 300 s away from our
clock gets 401 and changes nothing. Answered with an empty 204.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from pbx_sms.config import Settings
from pbx_sms.core.delivery import REPORTED_STATUSES, DeliveryStatus, http_status
from pbx_sms.core.hook_signatures import http_signature, secrets_match, timestamp_fresh
from pbx_sms.gateways.base import GatewayConfigError
from pbx_sms.gateways.http import NAME as HTTP_GATEWAY
from pbx_sms.gateways.http import HttpSettings
from pbx_sms.gateways.section import load_section
from pbx_sms.storage.delivery_reports import record_report
from pbx_sms.web.errors import ApiError, FieldProblem
from pbx_sms.web.guard import context_of, public
from pbx_sms.web.hooks import HOOKS_PREFIX
from pbx_sms.web.hooks.checks import bounded_body, client_address, public_path
from pbx_sms.web.hooks.replies import refusals_of

HTTP_STATUS_PATH = HOOKS_PREFIX + "/http/status"
TIMESTAMP_HEADER = "X-PBX-SMS-Timestamp"
SIGNATURE_HEADER = "X-PBX-SMS-Signature"
HOOK = "http status"

router = APIRouter(tags=["callbacks"], include_in_schema=False)


def callback_secret(settings: Settings) -> str:
    try:
        secret = load_section(settings, "http", HttpSettings).callback_secret
    except GatewayConfigError as exc:
        raise ApiError(503, f"http status callbacks need the http gateway's settings: {exc}") from None
    if secret is None or not secret.get_secret_value():
        raise ApiError(404, "http status callbacks are off: set PBX_SMS_HTTP_CALLBACK_SECRET")
    return secret.get_secret_value()


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, f"http status callback: {field}: {message}", problems=[FieldProblem(field, message)])


def parsed_report(body: bytes) -> tuple[str, DeliveryStatus, str | None]:
    """(message id, status, error) from the callback's JSON body; 422 naming the field otherwise."""
    try:
        document: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _invalid("$", f"expected a JSON object ({exc})") from None
    if not isinstance(document, dict):
        raise _invalid("$", "expected a JSON object")
    message_id = document.get("id")
    if not isinstance(message_id, str) or not message_id.strip():
        raise _invalid("id", "expected a non-empty string")
    word = document.get("status")
    status = http_status(word) if isinstance(word, str) else None
    if status is None:
        raise _invalid("status", f"expected one of {', '.join(sorted(REPORTED_STATUSES))}")
    error = document.get("error")
    if error is not None and not isinstance(error, str):
        raise _invalid("error", "expected a string or null")
    return message_id.strip(), status, error or None


@router.post(HTTP_STATUS_PATH)
async def http_status_callback(request: Request) -> Response:
    context = context_of(request)
    settings = context.settings
    secret = callback_secret(settings)
    body = await bounded_body(request, settings.web.hook_max_body_bytes)
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not timestamp_fresh(timestamp, context.clock().timestamp()):
        refusals_of(request).refused(HOOK, client_address(request), f"{TIMESTAMP_HEADER} missing or not fresh")
        raise ApiError(401, f"the request's {TIMESTAMP_HEADER} is missing or more than 300 s from our clock")
    expected = http_signature(secret, timestamp, public_path(settings.web, request), body)
    if not secrets_match(expected, request.headers.get(SIGNATURE_HEADER, "")):
        refusals_of(request).refused(HOOK, client_address(request), f"{SIGNATURE_HEADER} does not match")
        raise ApiError(401, f"the request's {SIGNATURE_HEADER} does not match")
    message_id, status, error = parsed_report(body)

    def store() -> bool:
        with context.database.write_session() as session:
            return record_report(session, HTTP_GATEWAY, message_id, status.value, error, context.clock())

    await run_in_threadpool(store)
    return Response(status_code=204)


public("POST", HTTP_STATUS_PATH)
