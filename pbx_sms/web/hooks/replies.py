"""Replies to our SMS, as the providers' inbound-message webhooks report them.

- Twilio: POST /hooks/twilio/incoming, the number's "A message comes in" webhook: form parameters
  ``MessageSid``, ``From``, ``To``, ``Body``, signed with ``X-Twilio-Signature``; answered with an
  empty TwiML ``<Response/>`` (Twilio's "reply with nothing").
- SMSAPI: /hooks/smsapi/TOKEN/replies, the "Odbiory wiadomości" (received messages, MO) callback URL
  set in SMSAPI's panel: parameters ``sms_to``, ``sms_from``, ``sms_text``, ``sms_date`` (Unix time),
  ``username`` and ``MsgId``, answered with the text ``OK`` (https://www.smsapi.pl/docs/ section
  "Odbiory Wiadomości"). SMSAPI cannot sign, so the secret token segment proves the origin.

A reply is stored once per provider message id; what it answers and whether it opts out is
``storage.replies``. The time a reply counts from is when it arrived here (our clock), not the
provider's: a phone's or a carrier's clock must not decide which SMS it answers.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from pbx_sms.core.optout_keywords import keyword_set
from pbx_sms.outbox.optout_confirmation import confirmation_sms
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.actor import set_actor
from pbx_sms.storage.replies import InboundSms, ReplyOutcome, record_reply
from pbx_sms.web.context import WebContext
from pbx_sms.web.errors import ApiError
from pbx_sms.web.guard import context_of, public
from pbx_sms.web.hooks import HOOKS_PREFIX
from pbx_sms.web.hooks.checks import RefusalLog
from pbx_sms.web.hooks.smsapi_requests import smsapi_form
from pbx_sms.web.hooks.twilio_requests import signed_twilio_form

log = logging.getLogger(__name__)

TWILIO_INCOMING_PATH = HOOKS_PREFIX + "/twilio/incoming"
SMSAPI_REPLIES_PATH = HOOKS_PREFIX + "/smsapi/{token}/replies"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

router = APIRouter(tags=["callbacks"], include_in_schema=False)


def refusals_of(request: Request) -> RefusalLog:
    """The app's own refusal log (one per app, so two apps in one process do not share a minute)."""
    state = request.app.state
    if not hasattr(state, "reply_refusals"):
        state.reply_refusals = RefusalLog()
    found: RefusalLog = state.reply_refusals
    return found


def store_reply(context: WebContext, reply: InboundSms) -> ReplyOutcome:
    settings = context.settings
    with context.database.write_session() as session:
        set_actor(session, f"reply:{reply.provider}")
        outcome = record_reply(session, reply, keyword_set(settings.replies.optout_keywords), settings.country)
    if outcome.newly_opted_out and settings.replies.optout_confirmation:
        _queue_confirmation(context, outcome)
    return outcome


def _queue_confirmation(context: WebContext, outcome: ReplyOutcome) -> None:
    assert outcome.account_id is not None and outcome.recipient is not None and outcome.sender is not None
    now = context.clock()
    sms = confirmation_sms(
        outcome.account_id, outcome.recipient, outcome.sender, context.settings.replies.optout_confirmation, now
    )
    report = SqlOutbox(context.database.engine).enqueue([sms], now)
    if report.queued:
        log.info("opt-out of %s confirmed by SMS %d", outcome.recipient, report.queued[0])
    elif report.duplicates:
        log.info("opt-out of %s: a confirmation already went today, none sent", outcome.recipient)
    for row_id, reason in report.suppressed:
        log.info("opt-out of %s: confirmation SMS %d suppressed (%s)", outcome.recipient, row_id, reason)


def _required(form: dict[str, str], name: str, hook: str) -> str:
    value = form.get(name, "")
    if not value:
        raise ApiError(400, f"{hook} callback without {name}")
    return value


@router.post(TWILIO_INCOMING_PATH)
async def twilio_incoming(request: Request) -> Response:
    context = context_of(request)
    form = await signed_twilio_form(request, context.settings, refusals_of(request), "twilio incoming")
    reply = InboundSms(
        provider="twilio",
        message_id=_required(form, "MessageSid", "Twilio incoming"),
        from_number=_required(form, "From", "Twilio incoming"),
        to_number=_required(form, "To", "Twilio incoming"),
        text=form.get("Body", ""),
        received_at=context.clock(),
    )
    await run_in_threadpool(store_reply, context, reply)
    return Response(EMPTY_TWIML, media_type="text/xml")


public("POST", TWILIO_INCOMING_PATH)


async def _smsapi_replies(request: Request, token: str) -> Response:
    context = context_of(request)
    form = await smsapi_form(request, token, context.settings, refusals_of(request), "smsapi replies")
    reply = InboundSms(
        provider="smsapi",
        message_id=_required(form, "MsgId", "SMSAPI replies"),
        from_number=_required(form, "sms_from", "SMSAPI replies"),
        to_number=_required(form, "sms_to", "SMSAPI replies"),
        text=form.get("sms_text", ""),
        received_at=context.clock(),
    )
    await run_in_threadpool(store_reply, context, reply)
    return Response("OK", media_type="text/plain")


@router.post(SMSAPI_REPLIES_PATH)
async def smsapi_replies_post(request: Request, token: str) -> Response:
    return await _smsapi_replies(request, token)


@router.get(SMSAPI_REPLIES_PATH)
async def smsapi_replies_get(request: Request, token: str) -> Response:
    return await _smsapi_replies(request, token)


public("POST", SMSAPI_REPLIES_PATH)
public("GET", SMSAPI_REPLIES_PATH)
