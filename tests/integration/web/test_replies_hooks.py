"""Replies through the running app's callbacks (Twilio incoming, SMSAPI replies), on SQLite and
PostgreSQL: signed or refused, stored once, linked to the SMS they answer, STOP becomes an opt-out,
the confirmation goes once a day past the new opt-out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from cli_helpers import admin_cli
from outbox_world import T0
from sqlalchemy import func, select, update
from web_sms import queue_sms
from web_world import WebWorld, web_world

from pbx_sms.config.models import RawSetting, ReplySettings, Settings, WebSettings
from pbx_sms.core.hook_signatures import twilio_signature
from pbx_sms.db.audit_table import AuditEntryRow
from pbx_sms.db.outbox_table import OutboxRecord
from pbx_sms.db.replies_table import ReplyRecord
from pbx_sms.outbox.decisions import OPTOUT_CONFIRMATION_RULE_ID
from pbx_sms.storage.optouts import list_optouts

PUBLIC_URL = "https://pbx.example.com/sms"
AUTH_TOKEN = "twilio-auth-token"
HOOK_TOKEN = "h" * 40
OUR_NUMBER = "+48221234567"
CUSTOMER = "+48601000001"
TWILIO = "/hooks/twilio/incoming"
SMSAPI = f"/hooks/smsapi/{HOOK_TOKEN}/replies"
CONFIRMATION = "Wypisano Cię z SMS-ów."


def _settings(database_url: str, confirmation: str = "") -> Settings:
    return Settings(
        database_url=database_url,
        web=WebSettings(public_url=PUBLIC_URL, hook_token=HOOK_TOKEN, hook_max_body_bytes=2048),
        replies=ReplySettings(optout_confirmation=confirmation),
        gateway_settings={
            "twilio_account_sid": RawSetting(value="AC" + "0" * 32, source="test"),
            "twilio_auth_token": RawSetting(value=AUTH_TOKEN, source="test"),
        },
    )


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url, settings=_settings(database_url))


@pytest.fixture
def confirming(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url, settings=_settings(database_url, CONFIRMATION))


def sent_sms(web: WebWorld, account: str, at: datetime, *, to: str = CUSTOMER, sender: str = OUR_NUMBER) -> int:
    """An SMS of ``account`` that went out at ``at`` from ``sender``."""
    row = queue_sms(web, account, at=at - timedelta(minutes=1), to=to, sender=sender)
    with web.database.write_session() as session:
        session.execute(update(OutboxRecord).where(OutboxRecord.id == row.id).values(status="sent", last_attempt_at=at))
    return row.id


def twilio_reply(web: WebWorld, body: str, sid: str, *, sign: bool = True, sender: str = CUSTOMER) -> int:
    params = {"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": sender, "To": OUR_NUMBER, "Body": body}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = twilio_signature(AUTH_TOKEN, PUBLIC_URL + TWILIO, list(params.items()))
    answer = web.client.post(TWILIO, content=urlencode(params), headers=headers)
    if answer.status_code == 200:
        assert answer.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
        assert answer.headers["content-type"].startswith("text/xml")
    return answer.status_code


def smsapi_reply(web: WebWorld, text: str, msg_id: str, *, path: str = SMSAPI) -> int:
    form = {"sms_to": OUR_NUMBER.lstrip("+"), "sms_from": CUSTOMER.lstrip("+"), "sms_text": text}
    form |= {"sms_date": "1773133200", "username": "acme", "MsgId": msg_id}
    answer = web.client.post(path, data=form)
    if answer.status_code == 200:
        assert answer.text == "OK"
    return answer.status_code


def replies(web: WebWorld) -> list[ReplyRecord]:
    with web.database.session() as session:
        return list(session.scalars(select(ReplyRecord).order_by(ReplyRecord.id)))


def optouts(web: WebWorld, account: str = "acme") -> list[str]:
    with web.database.session() as session:
        return [e164 for e164, name in list_optouts(session, account) if name == account]


def test_a_signed_twilio_reply_is_stored_with_the_sms_it_answers(web: WebWorld) -> None:
    sms_id = sent_sms(web, "acme", T0)
    assert twilio_reply(web, "Oddzwonię jutro", "SM1") == 200
    [reply] = replies(web)
    assert (reply.sms_id, reply.text, reply.opt_out, reply.provider) == (sms_id, "Oddzwonię jutro", False, "twilio")
    detail = web.as_("acme-viewer").get(f"/api/v1/accounts/acme/sms/{sms_id}").json()
    assert [(item["text"], item["opt_out"]) for item in detail["replies"]] == [("Oddzwonię jutro", False)]
    assert detail["replies"][0]["from_number"] == CUSTOMER


@pytest.mark.parametrize("signature", [None, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="])
def test_an_unsigned_or_wrongly_signed_twilio_reply_is_refused_and_stores_nothing(
    web: WebWorld, signature: str | None
) -> None:
    sent_sms(web, "acme", T0)
    params = {"MessageSid": "SM1", "From": CUSTOMER, "To": OUR_NUMBER, "Body": "STOP"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature:
        headers["X-Twilio-Signature"] = signature
    assert web.client.post(TWILIO, content=urlencode(params), headers=headers).status_code == 403
    assert replies(web) == []
    assert optouts(web) == []


def test_a_duplicate_webhook_stores_nothing_new(web: WebWorld) -> None:
    sent_sms(web, "acme", T0)
    assert twilio_reply(web, "STOP", "SM1") == 200
    assert twilio_reply(web, "STOP", "SM1") == 200
    assert smsapi_reply(web, "ok", "MO1") == 200
    assert smsapi_reply(web, "ok", "MO1") == 200
    assert [(reply.provider, reply.message_id) for reply in replies(web)] == [("twilio", "SM1"), ("smsapi", "MO1")]


@pytest.mark.parametrize("text", ["stop", " Stop ", "REZYGNUJĘ", "rezygnuje", "NIE"])
def test_an_opt_out_keyword_opts_the_number_out_of_the_account_audited(web: WebWorld, text: str) -> None:
    sent_sms(web, "acme", T0)
    sent_sms(web, "globex", T0 - timedelta(days=1))
    assert smsapi_reply(web, text, "MO-" + text) == 200
    assert optouts(web, "acme") == [CUSTOMER]
    assert optouts(web, "globex") == []  # the reply answered acme's SMS, the later one
    [reply] = replies(web)
    assert reply.opt_out
    with web.database.session() as session:
        entry = session.scalar(select(AuditEntryRow).where(AuditEntryRow.entity == "optout"))
    assert entry is not None
    assert (entry.actor, entry.action, entry.account_name) == ("reply:smsapi", "create", "acme")


@pytest.mark.parametrize("text", ["nie wiem, oddzwonię", "stop please", "Proszę o kontakt", ""])
def test_a_reply_that_is_no_keyword_opts_nobody_out(web: WebWorld, text: str) -> None:
    sent_sms(web, "acme", T0)
    assert twilio_reply(web, text, "SM-x") == 200
    assert optouts(web) == []
    assert [reply.opt_out for reply in replies(web)] == [False]


def test_a_reply_answers_the_latest_sms_from_that_number_before_it(web: WebWorld) -> None:
    sent_sms(web, "globex", T0)
    latest = sent_sms(web, "acme", T0 + timedelta(hours=1))
    sent_sms(web, "globex", T0 + timedelta(hours=2), sender="+48229999999")  # another of our numbers
    sent_sms(web, "globex", T0 + timedelta(hours=3), to="+48601000002")  # another customer
    sent_sms(web, "globex", datetime.now(UTC) + timedelta(days=1))  # after the reply
    assert twilio_reply(web, "STOP", "SM1") == 200
    [reply] = replies(web)
    assert reply.sms_id == latest
    assert optouts(web, "acme") == [CUSTOMER]
    assert optouts(web, "globex") == []


def test_a_reply_from_someone_never_texted_is_stored_without_account(
    web: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    sent_sms(web, "acme", T0)
    with caplog.at_level(logging.INFO, "pbx_sms.storage.replies"):
        assert twilio_reply(web, "STOP", "SM1", sender="+48601999999") == 200
    [reply] = replies(web)
    assert (reply.sms_id, reply.account_id, reply.opt_out) == (None, None, False)
    with web.database.session() as session:
        assert list_optouts(session) == []  # not global either
    assert "answers no SMS we sent" in caplog.text
    assert "opts nobody out" in caplog.text


def test_a_wrong_token_is_refused_and_never_logged(web: WebWorld, caplog: pytest.LogCaptureFixture) -> None:
    sent_sms(web, "acme", T0)
    wrong = "w" * 40
    with caplog.at_level(logging.INFO):
        assert smsapi_reply(web, "STOP", "MO1", path=f"/hooks/smsapi/{wrong}/replies") == 404
        assert smsapi_reply(web, "hello", "MO2") == 200
    assert [reply.message_id for reply in replies(web)] == ["MO2"]
    ours = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("pbx_sms"))
    assert wrong not in ours
    assert HOOK_TOKEN not in ours
    assert "/hooks/smsapi/***/replies 404" in ours
    assert "refused: wrong token" in ours


def test_a_body_too_large_is_refused(web: WebWorld) -> None:
    sent_sms(web, "acme", T0)
    assert smsapi_reply(web, "x" * 4000, "MO1") == 413
    assert twilio_reply(web, "x" * 4000, "SM1") == 413
    assert replies(web) == []


def test_the_confirmation_goes_once_a_day_past_the_new_opt_out(confirming: WebWorld) -> None:
    web = confirming
    sent_sms(web, "acme", T0)
    assert twilio_reply(web, "STOP", "SM1") == 200
    assert smsapi_reply(web, "NIE", "MO1") == 200  # already opted out: no second confirmation
    assert optouts(web) == [CUSTOMER]
    with web.database.session() as session:
        rows = session.scalars(select(OutboxRecord).where(OutboxRecord.rule_id == OPTOUT_CONFIRMATION_RULE_ID)).all()
        later = session.scalar(select(func.count()).select_from(OutboxRecord).where(OutboxRecord.status == "queued"))
    assert [(row.recipient, row.sender, row.text, row.status) for row in rows] == [
        (CUSTOMER, OUR_NUMBER, CONFIRMATION, "queued")
    ]
    assert later == 1
    # An ordinary SMS to the number is now suppressed.
    blocked = queue_sms_allowing_suppression(web)
    assert blocked == "suppressed"


def queue_sms_allowing_suppression(web: WebWorld) -> str:
    from outbox_world import sms
    from web_sms import account_id

    from pbx_sms.outbox.sql import SqlOutbox

    outbox = SqlOutbox(web.database.engine)
    report = outbox.enqueue([sms(account_id(web, "acme"), to=CUSTOMER, sender=OUR_NUMBER)], datetime.now(UTC))
    [(row_id, _reason)] = report.suppressed
    row = outbox.get(row_id)
    assert row is not None
    return str(row.status)


def test_no_confirmation_by_default(web: WebWorld) -> None:
    sent_sms(web, "acme", T0)
    assert twilio_reply(web, "STOP", "SM1") == 200
    with web.database.session() as session:
        count = session.scalar(
            select(func.count()).select_from(OutboxRecord).where(OutboxRecord.rule_id == OPTOUT_CONFIRMATION_RULE_ID)
        )
    assert count == 0


def test_pbx_sms_replies_lists_them_with_their_sms_and_account(web: WebWorld, database_url: str) -> None:
    sms_id = sent_sms(web, "acme", T0)
    assert twilio_reply(web, "STOP", "SM1") == 200
    assert twilio_reply(web, "\x1b[2Jkto to?", "SM2", sender="+48601999999") == 200
    cli = admin_cli(database_url)
    output = cli("replies").output
    lines = output.splitlines()
    assert lines[0].split() == ["ID", "RECEIVED", "FROM", "TO", "SMS", "ACCOUNT", "OPT-OUT", "TEXT"]
    assert "\x1b" not in output  # a reply's text is the sender's: printed as text, never as escapes
    assert f" {sms_id} " in lines[2] and "acme" in lines[2] and "yes" in lines[2]
    only = json.loads(cli("replies", "--sms", str(sms_id), "--json").output)
    assert [(item["text"], item["account"], item["opt_out"]) for item in only] == [("STOP", "acme", True)]
    assert cli("replies", "--limit", "99999999999999999999999").output.count("\n") == 3
