"""How a provider's callback proves where it comes from: pure functions over the request's parts.

Every comparison is in constant time (``hmac.compare_digest``): a signature or token checked byte by
byte would tell an attacker how many leading characters they got right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

# How far a signed request's timestamp may be from this host's clock, either way: a captured
# request is worthless after this long.
HTTP_SIGNATURE_MAX_AGE_S = 300.0


def secrets_match(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature``: HMAC-SHA1 (keyed with the auth token) over the full URL Twilio called,
    query included, followed by each POST parameter's name and value, sorted by name; base64."""
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def http_signature(secret: str, timestamp: str, path: str, body: bytes) -> str:
    """The generic ``http`` gateway's callback signature: hex HMAC-SHA256 over
    ``timestamp "\\n" path "\\n" body``. The path is the public one (with a reverse proxy's
    prefix), so a request signed for one callback fails on another."""
    message = timestamp.encode("ascii") + b"\n" + path.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def timestamp_fresh(timestamp: str, now_s: float, max_age_s: float = HTTP_SIGNATURE_MAX_AGE_S) -> bool:
    """Whether ``timestamp`` (Unix seconds, digits only) is within ``max_age_s`` of ``now_s``."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now_s) <= max_age_s
