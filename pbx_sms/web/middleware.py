"""The middleware of `pbx-sms web`, in one place because their order matters (outermost first):

security headers (on every answer, the 500s and 413s too) → request id, log line, 500 for an
unhandled error → CORS (only with PBX_SMS_WEB_CORS_ORIGINS) → the body limit (413) → the app.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from pbx_sms.config.models import WebSettings
from pbx_sms.web.guard import CSRF_HEADER
from pbx_sms.web.middleware_body import BodyLimitMiddleware
from pbx_sms.web.middleware_headers import SecurityHeadersMiddleware
from pbx_sms.web.middleware_requests import REQUEST_ID_HEADER, RequestMiddleware

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "If-Match", CSRF_HEADER)
CORS_EXPOSED = ("ETag", "Retry-After", REQUEST_ID_HEADER)


def install_middleware(app: FastAPI, settings: WebSettings) -> None:
    # add_middleware puts each one outside those added before it: innermost first.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Bearer tokens only: cookies are not sent cross-origin (no credentials), so no CSRF opening.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_HEADERS),
            expose_headers=list(CORS_EXPOSED),
            allow_credentials=False,
        )
    app.add_middleware(RequestMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
