"""The SMS log pages over the real app: filters, keyset pages, one SMS in detail, retry and cancel."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from panel_world import logged_in, polish_reader
from web_seed import NAMES, SeededWorld, seeded_world
from web_sms import queue_sms

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.sms_status import Status
from pbx_sms.db.replies_table import ReplyRecord
from pbx_sms.intake.calls import record_call
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.delivery_reports import record_report

LOG = "/accounts/acme/sms"


@pytest.fixture
def seeded(database_url: str) -> Iterator[SeededWorld]:
    yield from seeded_world(database_url)


def ids_on(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'href="/accounts/acme/sms/(\d+)"', html)]


def older_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    return unescape(found.group(1)) if found else None


def acme_ids(seeded: SeededWorld, copy: int = 1) -> dict[str, int]:
    return seeded.seed.copies["acme", copy].sms_ids


def test_the_log_lists_the_accounts_sms_only_and_filters_them(seeded: SeededWorld) -> None:
    client, _csrf = logged_in(seeded.world, "acme-viewer")
    mine = {row_id for copy in (1, 2) for row_id in acme_ids(seeded, copy).values()}
    assert set(ids_on(client.get(LOG).text)) == mine
    failed = client.get(LOG, params={"status": "failed"}).text
    assert set(ids_on(failed)) == {acme_ids(seeded, 1)["failed"], acme_ids(seeded, 2)["failed"]}
    queued_to = NAMES["acme", 1].recipients[0]
    by_number = client.get(LOG, params={"number": queued_to.replace("+48", "")}).text  # national form
    assert ids_on(by_number) == [acme_ids(seeded, 1)["queued"]]
    by_rule = client.get(LOG, params={"rule": NAMES["acme", 2].rule}).text
    assert set(ids_on(by_rule)) == set(acme_ids(seeded, 2).values())
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert ids_on(client.get(LOG, params={"from": tomorrow}).text) == []
    assert set(ids_on(client.get(LOG, params={"to": tomorrow}).text)) == mine


def test_a_wrong_filter_is_said_at_its_field_and_lists_nothing(seeded: SeededWorld) -> None:
    client, _csrf = logged_in(seeded.world, "acme-admin")
    answer = client.get(LOG, params={"number": "not a number"})
    assert answer.status_code == 422
    assert re.search(r'id="number"[^>]*aria-invalid="true"', answer.text)
    assert "read with default country PL" in answer.text and ids_on(answer.text) == []
    assert client.get(LOG, params={"from": "2026-13-01"}).status_code == 422
    assert client.get(LOG, params={"status": "lost"}).status_code == 422


def test_older_pages_stay_the_same_when_sms_arrive_meanwhile(seeded: SeededWorld) -> None:
    world = seeded.world
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    for minute in range(30):
        queue_sms(world, "acme", at=base + timedelta(minutes=minute), rule_name="paged")
    client, _csrf = logged_in(world, "acme-admin")
    first = client.get(LOG, params={"rule": "paged"}).text
    page_one = ids_on(first)
    link = older_link(first)
    assert len(page_one) == 25 and link is not None and "rule=paged" in link
    newcomer = queue_sms(world, "acme", at=base + timedelta(hours=5), rule_name="paged")
    second = client.get(link).text
    page_two = ids_on(second)
    assert len(page_two) == 5 and not set(page_two) & set(page_one) and newcomer.id not in page_two
    assert older_link(second) is None and 'href="/accounts/acme/sms?rule=paged"' in second  # back to the newest


def test_one_sms_in_detail_with_its_call_and_another_accounts_is_not_found(seeded: SeededWorld) -> None:
    world = seeded.world
    ended = datetime(2026, 3, 2, 9, 0, 40, tzinfo=UTC)
    call = CompletedCall(
        "detail-call", "in", "+48221000011", "+48602555111", "answered", 35, ended - timedelta(minutes=1), ended
    )
    record_call(world.database.engine, call, "pbx-detail", "ami", ended)
    row = queue_sms(
        world, "acme", at=ended, pbx="pbx-detail", call_id="detail-call", to="+48602555111", text="Dzięki, ACME!"
    )
    client, _csrf = logged_in(world, "acme-viewer")
    page = client.get(f"{LOG}/{row.id}").text
    assert "Dzięki, ACME!" in page and "+48602555111" in page and "+48221000011" in page
    assert "incoming" in page and "answered" in page and "35 s" in page
    assert "Send again" not in page and "Cancel this SMS" not in page  # a viewer changes nothing
    ids = acme_ids(seeded)
    failed = client.get(f"{LOG}/{ids['failed']}").text
    assert "permanent: HTTP 400: invalid number" in failed and "no longer in the call log" in failed
    assert f"msg-{ids['sent']}" in client.get(f"{LOG}/{ids['sent']}").text
    globex = seeded.seed.copies["globex", 1].sms_ids["failed"]
    assert client.get(f"{LOG}/{globex}").status_code == 404
    assert client.get(f"{LOG}/999999").status_code == 404


def test_cancel_and_retry_by_an_admin_and_the_outboxs_refusal_shown(seeded: SeededWorld) -> None:
    client, csrf = logged_in(seeded.world, "acme-admin")
    outbox = SqlOutbox(seeded.world.database.engine)
    queued, failed = acme_ids(seeded)["queued"], acme_ids(seeded)["failed"]
    detail = client.get(f"{LOG}/{queued}").text
    assert "Cancel this SMS" in detail and "Send again" not in detail
    answer = client.post(f"{LOG}/{queued}/cancel", data={"csrf_token": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, f"{LOG}/{queued}")
    row = outbox.get(queued)
    assert row is not None and row.status is Status.CANCELLED
    assert "cancelled by an admin" in client.get(f"{LOG}/{queued}").text  # the reason in words, not its code
    refused = client.post(f"{LOG}/{queued}/cancel", data={"csrf_token": csrf})  # cancelled already
    assert refused.status_code == 409 and "only queued SMS can be cancelled" in refused.text
    assert client.post(f"{LOG}/{failed}/retry", data={"csrf_token": csrf}).status_code == 200  # after the redirect
    retried = outbox.get(failed)
    assert retried is not None and retried.status is Status.QUEUED


def test_retry_and_cancel_are_refused_to_viewers_without_csrf_and_for_another_account(seeded: SeededWorld) -> None:
    viewer, csrf = logged_in(seeded.world, "acme-viewer")
    queued = acme_ids(seeded)["queued"]
    assert viewer.post(f"{LOG}/{queued}/cancel", data={"csrf_token": csrf}).status_code == 403
    admin, admin_csrf = logged_in(seeded.world, "acme-admin")
    assert admin.post(f"{LOG}/{queued}/cancel", data={}).status_code == 403  # no CSRF token
    globex = seeded.seed.copies["globex", 1].sms_ids["queued"]
    assert admin.post(f"{LOG}/{globex}/cancel", data={"csrf_token": admin_csrf}).status_code == 404
    for row_id in (queued, globex):
        row = SqlOutbox(seeded.world.database.engine).get(row_id)
        assert row is not None and row.status is Status.QUEUED


def test_times_are_in_the_accounts_time_zone(seeded: SeededWorld) -> None:
    row = queue_sms(seeded.world, "acme", at=datetime(2026, 7, 1, 22, 30, tzinfo=UTC), rule_name="zone")
    client, _csrf = logged_in(seeded.world, "acme-admin")
    page = client.get(f"{LOG}/{row.id}").text
    assert "7/2/26, 12:30\u202fAM" in page  # Warsaw, summer: UTC+2, the next day


def test_the_detail_shows_the_replies_and_says_when_none_could_come(seeded: SeededWorld) -> None:
    world = seeded.world
    ended = datetime(2026, 3, 2, 9, 0, 40, tzinfo=UTC)
    two_way = queue_sms(world, "acme", at=ended, sender="48500100200", to="+48602555112", call_id="reply-call")
    with world.database.write_session() as session:
        for index, text in enumerate(("Dzięki, oddzwonię", "STOP")):
            session.add(
                ReplyRecord(
                    provider="twilio",
                    message_id=f"SM-reply-{index}",
                    from_number="+48602555112",
                    to_number="+48500100200",
                    text=text,
                    received_at=ended + timedelta(minutes=5 + index),
                    sms_id=two_way.id,
                    account_id=two_way.account_id,
                    opt_out=text == "STOP",
                )
            )
    client, _csrf = logged_in(world, "acme-viewer")
    page = client.get(f"{LOG}/{two_way.id}").text
    replies = page[page.index('id="replies-heading"') : page.index('id="call-heading"')]
    assert replies.index("Dzięki, oddzwonię") < replies.index("STOP")  # oldest first
    assert replies.count("opted out") == 1
    alphanumeric = queue_sms(world, "acme", at=ended, sender="ACME", to="+48602555113", call_id="no-reply-call")
    assert "cannot receive replies" in client.get(f"{LOG}/{alphanumeric.id}").text


def test_a_wrong_sms_log_filter_is_said_in_polish(seeded: SeededWorld) -> None:
    client, _csrf = logged_in(seeded.world, "acme-admin")
    polish_reader(seeded.world.database)
    answer = client.get(LOG, params={"number": "not a number"})
    assert answer.status_code == 422
    assert re.search(r'id="number"[^>]*aria-invalid="true"', answer.text)
    assert "nie jest poprawnym numerem telefonu (odczytany z domyślnym krajem PL)" in answer.text
    day = client.get(LOG, params={"from": "2026-13-01"})
    assert "od: oczekiwano daty, np. 2026-03-10, podano &#39;2026-13-01&#39;" in day.text


def test_the_detail_shows_the_delivery_report_or_that_none_came(seeded: SeededWorld) -> None:
    world = seeded.world
    sent_id = acme_ids(seeded)["sent"]
    client, _csrf = logged_in(world, "acme-viewer")
    assert "no report from the provider yet" in client.get(f"{LOG}/{sent_id}").text
    row = SqlOutbox(world.database.engine).get(sent_id)
    assert row is not None and row.gateway is not None and row.message_id is not None
    with world.database.write_session() as session:
        at = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
        record_report(session, row.gateway, row.message_id, "undelivered", "30008", at)
    page = client.get(f"{LOG}/{sent_id}").text
    assert re.search(r'class="delivery">undelivered \(code 30008\), ', page)
    polish_reader(world.database, "acme-viewer")
    assert "niedoręczony (kod 30008)" in client.get(f"{LOG}/{sent_id}").text


def test_the_list_shows_each_sms_delivery_and_filters_by_it(seeded: SeededWorld) -> None:
    world = seeded.world
    sent_id = acme_ids(seeded)["sent"]
    other_sent = acme_ids(seeded, 2)["sent"]
    row = SqlOutbox(world.database.engine).get(sent_id)
    assert row is not None and row.gateway is not None and row.message_id is not None
    with world.database.write_session() as session:
        record_report(session, row.gateway, row.message_id, "expired", None, datetime(2026, 3, 2, 9, tzinfo=UTC))
    client, _csrf = logged_in(world, "acme-viewer")
    page = client.get(LOG).text
    cells = dict(re.findall(r'href="/accounts/acme/sms/(\d+)".*?<td class="delivery">([^<]*)</td>', page, re.S))
    assert cells[str(sent_id)] == "expired"
    assert cells[str(other_sent)] == "no final report yet"
    assert cells[str(acme_ids(seeded)["queued"])] == ""  # not sent: nothing to deliver
    assert ids_on(client.get(LOG, params={"delivery": "expired"}).text) == [sent_id]
    unknown = client.get(LOG, params={"delivery": "unknown"}).text
    assert sent_id not in ids_on(unknown) and other_sent in ids_on(unknown)
    assert re.search(r'<option value="expired" selected>', client.get(LOG, params={"delivery": "expired"}).text)
    wrong = client.get(LOG, params={"delivery": "sent"})
    assert wrong.status_code == 422 and re.search(r'id="delivery"[^>]*aria-invalid="true"', wrong.text)
    polish_reader(world.database, "acme-viewer")
    polish = client.get(LOG).text
    assert re.search(r'<td class="delivery">wygasł</td>', polish) and ">Doręczenie<" in polish
