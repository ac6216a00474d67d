"""A request from SMSAPI (a delivery report or a received message), believed only when its path's
token segment is PBX_SMS_WEB_HOOK_TOKEN: SMSAPI cannot sign. Its parameters come in the query (GET)
or as form data (POST); both are read."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from pbx_sms.config import Settings
from pbx_sms.web.errors import ApiError
from pbx_sms.web.hooks.checks import RefusalLog, bounded_body, client_address, first_values, token_accepted


async def smsapi_form(
    request: Request, token: str, settings: Settings, refusals: RefusalLog, hook: str
) -> dict[str, str]:
    """The parameters of a request carrying the right token; 404 (and one log line a minute) otherwise."""
    if not settings.web.hook_token.get_secret_value():
        raise ApiError(404, "SMSAPI callbacks are off: set PBX_SMS_WEB_HOOK_TOKEN")
    if not token_accepted(settings.web, token):
        refusals.refused(hook, client_address(request), "wrong token")
        raise ApiError(404, "no such callback")
    body = await bounded_body(request, settings.web.hook_max_body_bytes)
    pairs = list(parse_qsl(request.url.query, keep_blank_values=True))
    try:
        pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise ApiError(400, f"{hook} callback: the body is not UTF-8 form data") from None
    return first_values(pairs)
