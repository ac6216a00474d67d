"""The SMS log through the API: filters, a cursor that holds while SMS arrive, one SMS with its call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from outbox_world import T0
from web_sms import account_id, delivery_report, mark_sent, queue_sms
from web_world import WebWorld, web_world

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.intake.calls import record_call
from pbx_sms.outbox.sql import SqlOutbox

LOG = "/api/v1/accounts/acme/sms"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def _ids(answer: object) -> list[int]:
    return [item["id"] for item in answer.json()["items"]]  # type: ignore[attr-defined]


def test_the_log_is_newest_first_and_only_the_accounts(web: WebWorld) -> None:
    first = queue_sms(web, "acme", at=T0)
    second = queue_sms(web, "acme", at=T0 + timedelta(minutes=5))
    queue_sms(web, "globex", at=T0 + timedelta(minutes=9))
    answer = web.as_("acme-viewer").get(LOG)
    assert answer.status_code == 200
    assert _ids(answer) == [second.id, first.id]
    assert answer.json()["next_cursor"] is None
    item = answer.json()["items"][0]
    assert (item["status"], item["to"], item["rule"]) == ("queued", second.to, second.rule_name)


def test_pages_follow_the_cursor_and_new_sms_do_not_shift_them(web: WebWorld) -> None:
    rows = [queue_sms(web, "acme", at=T0 + timedelta(minutes=minute)) for minute in range(5)]
    # Two SMS created at the same instant: the id orders them.
    rows += [queue_sms(web, "acme", at=T0 + timedelta(minutes=10)) for _ in range(2)]
    newest_first = [row.id for row in sorted(rows, key=lambda row: (row.created_at, row.id), reverse=True)]
    client = web.as_("acme-admin")
    page = client.get(LOG, params={"limit": 3})
    seen = _ids(page)
    while page.json()["next_cursor"] is not None:
        queue_sms(web, "acme", at=T0 + timedelta(hours=len(seen)))  # newer than anything listed
        page = client.get(LOG, params={"limit": 3, "cursor": page.json()["next_cursor"]})
        assert page.status_code == 200
        seen += _ids(page)
    assert seen == newest_first


def test_a_full_last_page_has_no_next_cursor(web: WebWorld) -> None:
    for minute in range(2):
        queue_sms(web, "acme", at=T0 + timedelta(minutes=minute))
    page = web.as_("acme-admin").get(LOG, params={"limit": 2})
    assert len(_ids(page)) == 2
    assert page.json()["next_cursor"] is None


def test_filters_by_status_number_rule_and_time(web: WebWorld) -> None:
    early = queue_sms(web, "acme", at=T0, to="+48601000001", rule_id=1)
    middle = queue_sms(web, "acme", at=T0 + timedelta(hours=1), to="+48601000002", rule_id=2)
    late = queue_sms(web, "acme", at=T0 + timedelta(hours=2), to="+48221000000", other_party="+48601000001")
    SqlOutbox(web.database.engine).cancel(middle.id, T0 + timedelta(hours=3))
    client = web.as_("acme-viewer")
    assert _ids(client.get(LOG, params={"status": "cancelled"})) == [middle.id]
    assert _ids(client.get(LOG, params={"status": ["cancelled", "queued"]})) == [late.id, middle.id, early.id]
    # The recipient or the call's other party, written as the account's country reads it.
    assert _ids(client.get(LOG, params={"number": "601 000 001"})) == [late.id, early.id]
    assert _ids(client.get(LOG, params={"rule": "rule 2"})) == [middle.id]
    assert _ids(client.get(LOG, params={"rule": "no such rule"})) == []
    # T0 is 10:00 in Warsaw (UTC+1 in March): a time without an offset is the account's.
    window = {"from": "2026-03-10T11:00:00", "to": "2026-03-10T12:00:00"}
    assert _ids(client.get(LOG, params=window)) == [middle.id]
    assert _ids(client.get(LOG, params={"from": (T0 + timedelta(hours=1)).isoformat()})) == [late.id, middle.id]


def test_each_sms_shows_its_delivery_and_the_log_filters_by_it(web: WebWorld) -> None:
    delivered, undelivered, silent, queued = (queue_sms(web, "acme", at=T0 + timedelta(minutes=m)) for m in range(4))
    for row in (delivered, undelivered, silent):
        mark_sent(web, row, "twilio", f"SM{row.id}")
    at = T0 + timedelta(minutes=30)
    delivery_report(web, f"SM{delivered.id}", DeliveryStatus.DELIVERED, at, gateway="twilio")
    delivery_report(web, f"SM{undelivered.id}", DeliveryStatus.UNDELIVERED, at, gateway="twilio", code="30005")
    delivery_report(web, f"SM{silent.id}", DeliveryStatus.SENDING, at, gateway="twilio")
    client = web.as_("acme-viewer")
    items = {item["id"]: item for item in client.get(LOG).json()["items"]}
    assert {sms_id: item["delivery"] for sms_id, item in items.items()} == {
        delivered.id: "delivered",
        undelivered.id: "undelivered",
        silent.id: "unknown",
        queued.id: None,
    }
    assert items[undelivered.id]["delivery_report"] == {
        "status": "undelivered",
        "received_at": at.isoformat().replace("+00:00", "Z"),
        "code": "30005",
    }
    assert items[silent.id]["delivery_report"]["status"] == "sending"
    assert items[queued.id]["delivery_report"] is None
    assert _ids(client.get(LOG, params={"delivery": "undelivered"})) == [undelivered.id]
    assert _ids(client.get(LOG, params={"delivery": "unknown"})) == [silent.id]
    assert _ids(client.get(LOG, params={"delivery": "expired"})) == []
    detail = client.get(f"{LOG}/{delivered.id}").json()
    assert (detail["delivery"], detail["delivery_report"]["status"]) == ("delivered", "delivered")


def test_bad_filters_are_422_on_their_field(web: WebWorld) -> None:
    client = web.as_("acme-viewer")
    for params, field in (
        ({"status": "lost"}, "status[0]"),
        ({"number": "not a number"}, "number"),
        ({"from": "yesterday"}, "from"),
        ({"to": "0.5"}, "to"),  # a number of seconds is no ISO 8601 time
        ({"limit": 201}, "limit"),
        ({"delivery": "sent"}, "delivery"),  # an intermediate report is not what the log shows
        ({"limit": 0}, "limit"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
    ):
        answer = client.get(LOG, params=params)
        assert answer.status_code == 422, params
        assert field in [problem["field"] for problem in answer.json()["errors"]], (params, answer.json())


def test_one_sms_in_detail_with_its_call(web: WebWorld) -> None:
    ended = datetime(2026, 3, 10, 8, 59, tzinfo=UTC)
    call = CompletedCall(
        call_id="call-detail",
        direction="in",
        number="+48221234567",
        other_party="+48601000001",
        status="answered",
        talk_s=42,
        started_at=ended - timedelta(seconds=50),
        ended_at=ended,
    )
    record_call(web.database.engine, call, "", "ami", T0)
    row = queue_sms(web, "acme", call_id="call-detail", to="+48601000001", call_ended_at=ended)
    answer = web.as_("acme-viewer").get(f"{LOG}/{row.id}")
    assert answer.status_code == 200
    detail = answer.json()
    assert (detail["id"], detail["text"], detail["attempts"], detail["status"]) == (row.id, row.text, 0, "queued")
    assert detail["call"]["direction"] == "in"
    assert (detail["call"]["talk_s"], detail["call"]["status"], detail["call"]["number"]) == (
        42,
        "answered",
        "+48221234567",
    )


def test_an_sms_whose_call_was_pruned_has_no_call(web: WebWorld) -> None:
    row = queue_sms(web, "acme")
    assert web.as_("acme-admin").get(f"{LOG}/{row.id}").json()["call"] is None


def test_another_accounts_sms_is_not_found_also_by_its_id(web: WebWorld) -> None:
    theirs = queue_sms(web, "globex")
    admin = web.as_("acme-admin")
    guessed, missing = admin.get(f"{LOG}/{theirs.id}"), admin.get(f"{LOG}/{theirs.id + 1000}")
    assert guessed.status_code == missing.status_code == 404
    assert guessed.json()["detail"].replace(str(theirs.id), "N") == missing.json()["detail"].replace(
        str(theirs.id + 1000), "N"
    )
    assert admin.get("/api/v1/accounts/globex/sms").status_code == 404
    assert admin.get(f"/api/v1/accounts/globex/sms/{theirs.id}").status_code == 404
    assert admin.get(f"{LOG}/{2**63}").status_code == 404
    assert web.as_("globex-viewer").get(f"/api/v1/accounts/globex/sms/{theirs.id}").status_code == 200
    assert account_id(web, "globex") == theirs.account_id


def test_times_at_the_edge_of_the_calendar_are_422_not_an_error(web: WebWorld) -> None:
    client = web.as_("acme-viewer")
    for params, field in (({"from": "0001-01-01T00:00:00"}, "from"), ({"to": "9999-12-31T23:59:59-05:00"}, "to")):
        answer = client.get(LOG, params=params)
        assert answer.status_code == 422, params
        assert answer.json()["errors"][0]["field"] == field
