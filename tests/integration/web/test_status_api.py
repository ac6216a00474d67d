"""Status through the API: the daemons' heartbeats (as `pbx-sms status --json`), the counts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from outbox_world import T0
from web_sms import queue_sms
from web_world import WebWorld, web_world

from pbx_sms.core.call import CompletedCall
from pbx_sms.daemon.status import write_heartbeat
from pbx_sms.intake.calls import mark_processed, record_call
from pbx_sms.outbox.sql import SqlOutbox


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def _call(call_id: str) -> CompletedCall:
    return CompletedCall(
        call_id=call_id,
        direction="in",
        number="+48221234567",
        other_party="+48601000001",
        status="answered",
        talk_s=10,
        started_at=T0 - timedelta(minutes=2),
        ended_at=T0 - timedelta(minutes=1),
    )


def test_the_operator_sees_the_daemons_and_their_ami(web: WebWorld) -> None:
    details = {"ami": {"state": "up", "last_error": None}, "calls": {"completed_calls": 3}}
    now = datetime.now(UTC)
    write_heartbeat(web.database.engine, "pbx-host:1", "pbx-1", now, "up", details, now)
    answer = web.as_("root").get("/api/v1/status")
    assert answer.status_code == 200
    [daemon] = answer.json()["daemons"]
    assert (daemon["instance"], daemon["pbx"], daemon["host"]) == ("pbx-host:1", "pbx-1", socket.gethostname())
    assert (daemon["state"], daemon["ami_state"], daemon["ami_connected"]) == ("running", "up", True)
    assert daemon["counters"]["calls"] == {"completed_calls": 3}


def test_a_stopped_daemon_is_not_connected(web: WebWorld) -> None:
    now = datetime.now(UTC)
    details = {"ami": {"state": "down", "last_error": "Connection refused"}}
    write_heartbeat(web.database.engine, "pbx-host:2", "pbx-1", now, "down", details, now, stopped=True)
    [daemon] = web.as_("root").get("/api/v1/status").json()["daemons"]
    assert (daemon["state"], daemon["ami_connected"], daemon["ami_last_error"]) == (
        "stopped",
        False,
        "Connection refused",
    )


def test_the_counts_cover_every_account_for_the_operator(web: WebWorld) -> None:
    queue_sms(web, "acme")
    cancelled = queue_sms(web, "globex")
    SqlOutbox(web.database.engine).cancel(cancelled.id, T0)
    body = web.as_("root").get("/api/v1/status").json()
    assert body["sms_by_status"]["queued"] == 1
    assert body["sms_by_status"]["cancelled"] == 1
    assert body["sms_by_status"]["sent"] == 0
    assert body["daemons"] == []


def test_only_the_operator_reads_the_installation_status(web: WebWorld) -> None:
    assert web.as_("acme-admin").get("/api/v1/status").status_code == 403
    assert web.as_("acme-viewer").get("/api/v1/status").status_code == 403


def test_an_account_sees_its_own_counts(web: WebWorld) -> None:
    queue_sms(web, "acme")
    queue_sms(web, "acme")
    queue_sms(web, "globex")
    now = datetime.now(UTC)
    for call_id, account in (("c1", "acme"), ("c2", "acme"), ("c3", "globex")):
        record_call(web.database.engine, _call(call_id), "pbx-1", "ami", now)
        mark_processed(web.database.engine, "pbx-1", call_id, account, now)
    answer = web.as_("acme-viewer").get("/api/v1/accounts/acme/status")
    assert answer.status_code == 200
    assert answer.json()["sms_by_status"]["queued"] == 2
    assert answer.json()["calls_last_24h"] == 2
    assert web.as_("acme-viewer").get("/api/v1/accounts/globex/status").status_code == 404
    assert web.as_("root").get("/api/v1/accounts/globex/status").json()["calls_last_24h"] == 1
