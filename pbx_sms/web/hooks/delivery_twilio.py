"""Twilio's status callbacks (delivery reports): POST /hooks/twilio/status.

Twilio posts the message's ``StatusCallback`` (set by the twilio gateway) with form parameters
``MessageSid``, ``MessageStatus`` (queued, sending, sent, delivered, undelivered, failed...) and,
on a failure, ``ErrorCode``; signed with ``X-Twilio-Signature``. A request that fails verification
gets 403 and changes nothing (signed_twilio_form). Answered with an empty 204. A status this
program does not know (e.g. a new one of Twilio's) is answered 204 and ignored, logged once.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from pbx_sms.core.delivery import twilio_status
from pbx_sms.gateways.twilio import STATUS_CALLBACK_PATH
from pbx_sms.storage.delivery_reports import record_report
from pbx_sms.web.errors import ApiError
from pbx_sms.web.guard import context_of, public
from pbx_sms.web.hooks.replies import refusals_of
from pbx_sms.web.hooks.twilio_requests import signed_twilio_form

log = logging.getLogger(__name__)

router = APIRouter(tags=["callbacks"], include_in_schema=False)


@router.post(STATUS_CALLBACK_PATH)
async def twilio_status_callback(request: Request) -> Response:
    context = context_of(request)
    form = await signed_twilio_form(request, context.settings, refusals_of(request), "twilio status")
    message_id = form.get("MessageSid", "")
    if not message_id:
        raise ApiError(400, "Twilio status callback without MessageSid")
    word = form.get("MessageStatus", "")
    status = twilio_status(word)
    if status is None:
        log.info("twilio status: message %s has status %r, not a delivery status; ignored", message_id, word[:40])
        return Response(status_code=204)
    code = form.get("ErrorCode") or None

    def store() -> bool:
        with context.database.write_session() as session:
            return record_report(session, "twilio", message_id, status.value, code, context.clock())

    await run_in_threadpool(store)
    return Response(status_code=204)


public("POST", STATUS_CALLBACK_PATH)
