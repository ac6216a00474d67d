"""The composition root of `pbx-sms web`: one FastAPI app over one ``WebContext``."""

from __future__ import annotations

from fastapi import FastAPI

from pbx_sms.web.api import accounts, me, session
from pbx_sms.web.context import WebContext
from pbx_sms.web.docs import install_docs
from pbx_sms.web.errors import install_error_handlers
from pbx_sms.web.middleware import install_middleware

OPENAPI_PATH = "/api/openapi.json"


def create_app(context: WebContext) -> FastAPI:
    app = FastAPI(
        title="pbx-sms",
        summary="SMS after Asterisk calls: rules, numbers, senders, opt-outs, the SMS log and the outbox.",
        openapi_url=OPENAPI_PATH,
        docs_url=None,  # /api/docs is served with the package's own Swagger UI assets (no CDN)
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)
    install_middleware(app, context.settings.web)
    for router in (me.router, accounts.router, session.router):
        app.include_router(router)
    install_docs(app, OPENAPI_PATH)
    return app
