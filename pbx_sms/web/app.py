"""The composition root of `pbx-sms web`: one FastAPI app over one ``WebContext``."""

from __future__ import annotations

from fastapi import FastAPI

from pbx_sms.web.api import accounts, me, rule_tools
from pbx_sms.web.context import WebContext
from pbx_sms.web.errors import install_error_handlers

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
    for router in (me.router, accounts.router, rule_tools.router):
        app.include_router(router)
    return app
