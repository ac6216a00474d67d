"""Twilio's status callbacks: signed ones recorded (idempotent, in lifecycle order), unsigned refused."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from web_world import WebWorld, web_world

from pbx_sms.config.models import RawSetting, Settings, WebSettings
from pbx_sms.core.hook_signatures import twilio_signature
from pbx_sms.db.delivery_table import DeliveryReportRecord

PUBLIC_URL = "https://pbx.example.com/sms"
AUTH_TOKEN = "twilio-auth-token"
STATUS = "/hooks/twilio/status"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    settings = Settings(
        database_url=database_url,
        web=WebSettings(public_url=PUBLIC_URL, hook_max_body_bytes=2048),
        gateway_settings={
            "twilio_account_sid": RawSetting(value="AC" + "0" * 32, source="test"),
            "twilio_auth_token": RawSetting(value=AUTH_TOKEN, source="test"),
        },
    )
    yield from web_world(database_url, settings=settings)


def status_callback(web: WebWorld, sid: str, status: str, *, sign: bool = True, code: str = "") -> int:
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if code:
        params["ErrorCode"] = code
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = twilio_signature(AUTH_TOKEN, PUBLIC_URL + STATUS, list(params.items()))
    return web.client.post(STATUS, content=urlencode(params), headers=headers).status_code


def stored(web: WebWorld) -> list[tuple[str, str, str | None, int]]:
    with web.database.session() as session:
        rows = session.scalars(select(DeliveryReportRecord).order_by(DeliveryReportRecord.message_id))
        return [(row.message_id, row.status, row.code, row.reports) for row in rows]


def test_signed_reports_are_recorded_and_a_late_intermediate_does_not_undo_delivered(web: WebWorld) -> None:
    assert status_callback(web, "SM1", "delivered") == 204
    assert status_callback(web, "SM1", "sent") == 204
    assert status_callback(web, "SM1", "delivered") == 204
    assert status_callback(web, "SM2", "failed", code="30007") == 204
    assert stored(web) == [("SM1", "delivered", None, 3), ("SM2", "rejected", "30007", 1)]


def test_an_unsigned_or_wrongly_signed_report_is_refused_and_changes_nothing(web: WebWorld) -> None:
    assert status_callback(web, "SM1", "sent") == 204
    assert status_callback(web, "SM1", "delivered", sign=False) == 403
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "bm9wZQ=="}
    assert web.client.post(STATUS, content=urlencode(params), headers=headers).status_code == 403
    assert stored(web) == [("SM1", "sent", None, 1)]


def test_a_body_too_large_is_refused(web: WebWorld) -> None:
    assert status_callback(web, "SM" + "9" * 3000, "sent") == 413
    assert stored(web) == []
