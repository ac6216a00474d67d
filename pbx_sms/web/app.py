"""The composition root of `pbx-sms web`: one FastAPI app over one ``WebContext``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from pbx_sms.web.api import (
    accounts,
    audit,
    delivery,
    me,
    numbers,
    optouts,
    outbox,
    rule_tools,
    senders,
    session,
    sms_log,
    status,
)
from pbx_sms.web.api import rules as rules_api
from pbx_sms.web.context import WebContext
from pbx_sms.web.docs import install_docs
from pbx_sms.web.errors import install_error_handlers
from pbx_sms.web.hooks import delivery_http as hook_delivery_http
from pbx_sms.web.hooks import delivery_smsapi as hook_delivery_smsapi
from pbx_sms.web.hooks import delivery_twilio as hook_delivery_twilio
from pbx_sms.web.hooks import replies as hook_replies
from pbx_sms.web.metrics import install_metrics
from pbx_sms.web.middleware import install_middleware
from pbx_sms.web.pages import account, account_lists, dashboard, home, login, rule_edit
from pbx_sms.web.pages import rules as rules_pages
from pbx_sms.web.pages import sms_log as sms_log_pages
from pbx_sms.web.pages.error_page import error_page
from pbx_sms.web.pages.render import STATIC_PATH, static_files

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
    install_error_handlers(app, page_error=error_page)
    install_middleware(app, context.settings.web)
    api_routers = (
        me.router,
        session.router,
        accounts.router,
        rule_tools.router,  # before rules: its POST /rules/preview and /rules/backtest are no rule names
        rules_api.router,
        numbers.router,
        senders.router,
        optouts.router,
        sms_log.router,
        delivery.router,
        outbox.router,
        status.router,
        audit.router,
    )
    # Providers' callbacks (delivery reports, replies): public routes that check the request themselves.
    hook_routers: tuple[APIRouter, ...] = (
        hook_replies.router,
        hook_delivery_twilio.router,
        hook_delivery_smsapi.router,
        hook_delivery_http.router,
    )
    page_routers = (
        login.router,
        home.router,
        rules_pages.router,
        rule_edit.router,
        account.router,
        account_lists.router,
        sms_log_pages.router,
        dashboard.router,
    )
    for router in (*api_routers, *hook_routers, *page_routers):
        app.include_router(router)
    install_metrics(app, context)  # GET /metrics for Prometheus (operator), unless turned off
    install_docs(app, OPENAPI_PATH)
    app.mount(STATIC_PATH, static_files(), name="static")  # public: guard.public in pages/render.py
    return app
