"""What every callback route does before it believes a request: read a bounded body, rebuild the
public address the provider used, check a token, and log a refused request without flooding the log."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from fastapi import Request

from pbx_sms.config.models import WebSettings
from pbx_sms.core.hook_signatures import secrets_match
from pbx_sms.web.errors import ApiError

log = logging.getLogger("pbx_sms.web.hooks")

REFUSAL_LOG_INTERVAL_S = 60.0
MAX_REFUSAL_SOURCES = 1024  # bounded: a flood from many addresses must not grow memory


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"callback body too large: at most {max_bytes} bytes (PBX_SMS_WEB_HOOK_MAX_BODY_BYTES)")


async def bounded_body(request: Request, max_bytes: int) -> bytes:
    """The body, refused with 413 once it passes ``max_bytes`` (declared or counted)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(body)


def first_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Form parameters by name; a repeated name keeps its first value (providers send each once)."""
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def public_url(settings: WebSettings, request: Request) -> str:
    """The full URL the provider called (and signed): PBX_SMS_WEB_PUBLIC_URL + the local path + query.

    Never the Host header: a client chooses that, and a signature must bind the address the operator
    gave the provider."""
    if not settings.public_url:
        raise ApiError(503, "callbacks are off: set PBX_SMS_WEB_PUBLIC_URL to the address providers reach")
    query = request.url.query
    return settings.public_url + request.url.path + ("?" + query if query else "")


def public_path(settings: WebSettings, request: Request) -> str:
    """The path part of ``public_url`` (with a reverse proxy's prefix), without the query."""
    return urlsplit(public_url(settings, request)).path


def token_accepted(settings: WebSettings, given: str) -> bool:
    return secrets_match(settings.hook_token.get_secret_value(), given)


class RefusalLog:
    """Logs a refused callback at most once per interval per source (hook, client address), with
    how many were refused since the last line: a misconfigured provider retrying every second, or
    someone probing, must not fill the disk."""

    def __init__(
        self,
        monotonic_s: Callable[[], float] = time.monotonic,
        interval_s: float = REFUSAL_LOG_INTERVAL_S,
        max_sources: int = MAX_REFUSAL_SOURCES,
    ) -> None:
        self._monotonic_s = monotonic_s
        self._interval_s = interval_s
        self._max_sources = max_sources
        # source → (when last logged, refusals not logged since)
        self._sources: OrderedDict[tuple[str, str], tuple[float, int]] = OrderedDict()

    def refused(self, hook: str, client: str, why: str) -> bool:
        """Record one refusal; log it if this source was quiet for an interval. True when logged."""
        key = (hook, client)
        now_s = self._monotonic_s()
        last = self._sources.get(key)
        if last is not None and now_s - last[0] < self._interval_s:
            self._sources[key] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        self._sources[key] = (now_s, 0)
        self._sources.move_to_end(key)
        while len(self._sources) > self._max_sources:
            self._sources.popitem(last=False)
        more = f" ({suppressed} more refused in the last interval)" if suppressed else ""
        log.warning("callback %s from %s refused: %s%s", hook, client, why, more)
        return True


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"
