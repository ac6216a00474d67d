"""A request from Twilio (a status callback or an incoming message), believed only when its
``X-Twilio-Signature`` matches: HMAC-SHA1 over the public URL Twilio called and the sorted POST
parameters, keyed with the account's auth token (PBX_SMS_TWILIO_AUTH_TOKEN)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from pbx_sms.config import Settings
from pbx_sms.core.hook_signatures import secrets_match, twilio_signature
from pbx_sms.gateways.base import GatewayConfigError
from pbx_sms.gateways.section import load_section
from pbx_sms.gateways.twilio import TwilioSettings
from pbx_sms.web.errors import ApiError
from pbx_sms.web.hooks.checks import RefusalLog, bounded_body, client_address, first_values, public_url

SIGNATURE_HEADER = "X-Twilio-Signature"


def twilio_auth_token(settings: Settings) -> str:
    try:
        return load_section(settings, "twilio", TwilioSettings).auth_token.get_secret_value()
    except GatewayConfigError as exc:
        raise ApiError(503, f"Twilio callbacks need the twilio gateway's settings: {exc}") from None


async def signed_twilio_form(request: Request, settings: Settings, refusals: RefusalLog, hook: str) -> dict[str, str]:
    """The POST parameters of a request Twilio signed; 403 (and one log line a minute) otherwise."""
    body = await bounded_body(request, settings.web.hook_max_body_bytes)
    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        params = []
    expected = twilio_signature(twilio_auth_token(settings), public_url(settings.web, request), params)
    if not secrets_match(expected, request.headers.get(SIGNATURE_HEADER, "")):
        refusals.refused(hook, client_address(request), "X-Twilio-Signature does not match")
        raise ApiError(403, "the request's X-Twilio-Signature does not match")
    return first_values(params)
