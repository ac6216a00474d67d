"""SMSAPI's delivery reports (GET/POST /hooks/smsapi/TOKEN/status), on SQLite and PostgreSQL: several
reports in one request, duplicates, out of order, matched to the outbox later, a wrong token refused."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from outbox_world import T0
from sqlalchemy import select, update
from web_sms import queue_sms
from web_world import WebWorld, web_world

from pbx_sms.config.models import Settings, WebSettings
from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.db.delivery_table import DeliveryReportRecord
from pbx_sms.db.outbox_table import OutboxRecord
from pbx_sms.outbox.model import OutboxRow
from pbx_sms.outbox.sql import SqlOutbox

HOOK_TOKEN = "h" * 40
STATUS = f"/hooks/smsapi/{HOOK_TOKEN}/status"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    settings = Settings(database_url=database_url, web=WebSettings(hook_token=HOOK_TOKEN, hook_max_body_bytes=2048))
    yield from web_world(database_url, settings=settings)


def report(web: WebWorld, params: dict[str, str], *, path: str = STATUS, post: bool = False) -> int:
    answer = web.client.post(path, data=params) if post else web.client.get(path + "?" + urlencode(params))
    if answer.status_code == 200:
        assert answer.text == "OK"
        assert answer.headers["content-type"].startswith("text/plain")
    return answer.status_code


def stored(web: WebWorld) -> list[tuple[str, str, str, str | None, int]]:
    with web.database.session() as session:
        rows = session.scalars(select(DeliveryReportRecord).order_by(DeliveryReportRecord.message_id))
        return [(row.gateway, row.message_id, row.status, row.code, row.reports) for row in rows]


def test_several_comma_separated_reports_in_one_request_are_each_recorded(web: WebWorld) -> None:
    params = {
        "MsgId": "A1,A2,A3",
        "status": "403,404,402",
        "status_name": "DELIVERED,UNDELIVERED,EXPIRED",
        "idx": ",,",
        "donedate": "1773133200,1773133201,1773133202",
        "to": "48601000001,48601000002,48601000003",
    }
    assert report(web, params) == 200
    assert stored(web) == [
        ("smsapi", "A1", "delivered", "403", 1),
        ("smsapi", "A2", "undelivered", "404", 1),
        ("smsapi", "A3", "expired", "402", 1),
    ]


def logged(web: WebWorld, sms_id: int) -> OutboxRow:
    row = SqlOutbox(web.database.engine).get(sms_id)
    assert row is not None
    return row


def test_a_duplicate_and_a_late_intermediate_leave_delivered(web: WebWorld) -> None:
    delivered = {"MsgId": "B1", "status": "404", "status_name": "DELIVERED"}
    assert report(web, delivered) == 200
    assert report(web, delivered, post=True) == 200
    assert report(web, {"MsgId": "B1", "status": "403", "status_name": "SENT"}) == 200
    assert [(row[2], row[4]) for row in stored(web)] == [("delivered", 3)]


def test_an_unknown_status_name_is_ignored_but_the_others_recorded(web: WebWorld) -> None:
    assert report(web, {"MsgId": "C1,C2", "status": "999,404", "status_name": "SOMETHING_NEW,DELIVERED"}) == 200
    assert [row[1:3] for row in stored(web)] == [("C2", "delivered")]


def test_a_report_before_the_outbox_row_knows_its_id_is_matched_later(web: WebWorld) -> None:
    assert report(web, {"MsgId": "D1", "status": "404", "status_name": "DELIVERED"}) == 200
    row = queue_sms(web, "acme", at=T0)
    assert logged(web, row.id).delivery is None
    with web.database.write_session() as session:
        session.execute(
            update(OutboxRecord)
            .where(OutboxRecord.id == row.id)
            .values(status="sent", gateway="smsapi", message_id="D1", last_attempt_at=T0)
        )
    found = logged(web, row.id).delivery
    assert found is not None and (found.status, found.code) == (DeliveryStatus.DELIVERED, "404")


def test_a_report_with_only_the_numeric_code_is_mapped_and_unknown_is_not_recorded(web: WebWorld) -> None:
    assert report(web, {"MsgId": "E1,E2,E3", "status": "404,408,412"}) == 200
    assert [row[1:3] for row in stored(web)] == [("E1", "delivered"), ("E3", "rejected")]


def test_a_request_without_msgid_is_refused(web: WebWorld) -> None:
    assert report(web, {"status_name": "DELIVERED"}) == 400
    assert stored(web) == []


def test_a_wrong_token_is_refused_like_the_replies_hook_and_never_logged(
    web: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "w" * 40
    params = {"MsgId": "E1", "status": "403", "status_name": "DELIVERED"}
    with caplog.at_level(logging.INFO):
        assert report(web, params, path=f"/hooks/smsapi/{wrong}/status") == 404
        replies_answer = web.client.post(f"/hooks/smsapi/{wrong}/replies", data={"MsgId": "x"})
        assert report(web, params) == 200
    assert replies_answer.status_code == 404
    wrong_answer = web.client.get(f"/hooks/smsapi/{wrong}/status?" + urlencode(params))
    assert (wrong_answer.status_code, wrong_answer.text) == (404, replies_answer.text)
    assert [row[1] for row in stored(web)] == ["E1"]
    ours = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("pbx_sms"))
    assert wrong not in ours
    assert HOOK_TOKEN not in ours
    assert "/hooks/smsapi/***/status 404" in ours
    assert "/hooks/smsapi/***/status 200" in ours


def test_a_body_too_large_is_refused(web: WebWorld) -> None:
    assert report(web, {"MsgId": "F" * 3000, "status_name": "DELIVERED"}, post=True) == 413
    assert stored(web) == []
