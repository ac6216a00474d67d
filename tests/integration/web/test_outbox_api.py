"""Retry and cancel through the API: the outbox's own transitions, refused ones 409 with the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web_sms import queue_sms
from web_world import WebWorld, web_world

from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.sql import SqlOutbox

OUTBOX = "/api/v1/accounts/acme/outbox"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def _status(web: WebWorld, sms_id: int) -> Status:
    row = SqlOutbox(web.database.engine).get(sms_id)
    assert row is not None
    return row.status


def test_an_admin_cancels_a_queued_sms_and_retries_it(web: WebWorld) -> None:
    row = queue_sms(web, "acme")
    admin = web.as_("acme-admin")
    cancelled = admin.post(f"{OUTBOX}/{row.id}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["id"], cancelled.json()["status"]) == (row.id, "cancelled")
    assert _status(web, row.id) is Status.CANCELLED
    retried = admin.post(f"{OUTBOX}/{row.id}/retry")
    assert retried.status_code == 200
    assert retried.json()["status"] == "queued"
    assert _status(web, row.id) is Status.QUEUED


def test_a_transition_the_status_does_not_allow_is_409_with_the_reason(web: WebWorld) -> None:
    row = queue_sms(web, "acme")
    admin = web.as_("acme-admin")
    retry = admin.post(f"{OUTBOX}/{row.id}/retry")
    assert retry.status_code == 409
    assert "only failed, suppressed, cancelled or unclear SMS can be retried" in retry.json()["detail"]
    admin.post(f"{OUTBOX}/{row.id}/cancel")
    again = admin.post(f"{OUTBOX}/{row.id}/cancel")
    assert again.status_code == 409
    assert "only queued SMS can be cancelled" in again.json()["detail"]
    assert _status(web, row.id) is Status.CANCELLED


def test_another_accounts_sms_is_not_found_and_stays_as_it_is(web: WebWorld) -> None:
    theirs = queue_sms(web, "globex")
    admin = web.as_("acme-admin")
    assert admin.post(f"{OUTBOX}/{theirs.id}/cancel").status_code == 404
    assert admin.post(f"{OUTBOX}/{theirs.id + 1000}/cancel").status_code == 404
    assert admin.post(f"/api/v1/accounts/globex/outbox/{theirs.id}/cancel").status_code == 404
    assert admin.post(f"{OUTBOX}/{2**63}/retry").status_code == 404
    assert _status(web, theirs.id) is Status.QUEUED


def test_a_viewer_may_not_change_the_outbox(web: WebWorld) -> None:
    row = queue_sms(web, "acme")
    assert web.as_("acme-viewer").post(f"{OUTBOX}/{row.id}/cancel").status_code == 403
    assert web.as_("acme-viewer").post(f"{OUTBOX}/{row.id}/retry").status_code == 403
    assert _status(web, row.id) is Status.QUEUED


def test_an_operator_cancels_any_accounts_sms(web: WebWorld) -> None:
    row = queue_sms(web, "globex")
    assert web.as_("root").post(f"/api/v1/accounts/globex/outbox/{row.id}/cancel").status_code == 200
    assert web.as_("root").post(f"{OUTBOX}/{row.id}/cancel").status_code == 404
