"""SMSAPI's delivery reports: GET or POST /hooks/smsapi/TOKEN/status.

SMSAPI calls the message's ``notify_url`` with query parameters (form POST is accepted too):
``MsgId``, ``status`` (numeric code), ``status_name`` (DELIVERED, UNDELIVERED...), ``idx``,
``donedate`` (Unix time) and ``to``. Several reports may come in one request: then ``MsgId`` and
the other parameters are comma-separated lists in the same order. SMSAPI cannot sign, so the
secret token segment proves the origin (a wrong one: the same 404 as the replies hook, nothing
stored). Answered with the text ``OK``, which SMSAPI expects.

``status_name`` is mapped, else the numeric ``status`` (core.delivery.smsapi_status); a report that
says nothing about the phone (NOT_FOUND, UNKNOWN, RENEWAL, a word not documented) is logged and
not recorded.
The time recorded is when the report arrived here (our clock), not ``donedate``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from pbx_sms.core.delivery import smsapi_status
from pbx_sms.gateways.smsapi import NAME as SMSAPI_GATEWAY
from pbx_sms.storage.delivery_reports import record_report
from pbx_sms.web.errors import ApiError
from pbx_sms.web.guard import context_of, public
from pbx_sms.web.hooks import HOOKS_PREFIX
from pbx_sms.web.hooks.replies import refusals_of
from pbx_sms.web.hooks.smsapi_requests import smsapi_form

log = logging.getLogger(__name__)

SMSAPI_STATUS_PATH = HOOKS_PREFIX + "/smsapi/{token}/status"

router = APIRouter(tags=["callbacks"], include_in_schema=False)


def _listed(form: dict[str, str], name: str, count: int) -> list[str]:
    """The comma-separated values of ``name``, padded with "" to ``count`` (a missing parameter)."""
    values = form.get(name, "").split(",") if form.get(name) else []
    return (values + [""] * count)[:count]


async def _smsapi_status(request: Request, token: str) -> Response:
    context = context_of(request)
    form = await smsapi_form(request, token, context.settings, refusals_of(request), "smsapi status")
    message_ids = [value.strip() for value in form.get("MsgId", "").split(",") if value.strip()]
    if not message_ids:
        raise ApiError(400, "SMSAPI status callback without MsgId")
    names = _listed(form, "status_name", len(message_ids))
    codes = _listed(form, "status", len(message_ids))
    reports = []
    for message_id, name, code in zip(message_ids, names, codes, strict=True):
        status = smsapi_status(name, code)
        if status is None:
            log.info(
                "smsapi status: message %s has status %r (code %r), not mapped; ignored",
                message_id,
                name[:40],
                code[:20],
            )
            continue
        reports.append((message_id, status.value, code.strip() or None))

    def store() -> None:
        now = context.clock()
        with context.database.write_session() as session:
            for message_id, status_value, code_value in reports:
                record_report(session, SMSAPI_GATEWAY, message_id, status_value, code_value, now)

    if reports:
        await run_in_threadpool(store)
    return Response("OK", media_type="text/plain")


@router.get(SMSAPI_STATUS_PATH)
async def smsapi_status_get(request: Request, token: str) -> Response:
    return await _smsapi_status(request, token)


@router.post(SMSAPI_STATUS_PATH)
async def smsapi_status_post(request: Request, token: str) -> Response:
    return await _smsapi_status(request, token)


public("GET", SMSAPI_STATUS_PATH)
public("POST", SMSAPI_STATUS_PATH)
