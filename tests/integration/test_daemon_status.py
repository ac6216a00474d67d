"""The status report: heartbeats of running, stopped and vanished daemons, outbox depth, calls."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pbx_sms.cli.daemon import render_status
from pbx_sms.core.call import CompletedCall
from pbx_sms.daemon.status import read_status, write_heartbeat
from pbx_sms.db.engine import Database
from pbx_sms.intake.calls import record_calls
from pbx_sms.storage.database import open_database

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DETAILS = {"ami": {"state": "up", "last_error": None}, "calls": {"completed_calls": 3, "open_calls": 1}}


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.close()


def dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def test_running_stopped_and_stale_daemons(database: Database) -> None:
    engine = database.engine
    write_heartbeat(engine, "a", "pbx-1", NOW - timedelta(hours=1), "up", DETAILS, NOW - timedelta(seconds=1))
    write_heartbeat(
        engine, "b", "pbx-1", NOW - timedelta(hours=2), "down", DETAILS, NOW - timedelta(minutes=5), stopped=True
    )
    report = read_status(engine, now=NOW)
    states = {daemon["instance"]: daemon["state"] for daemon in report["daemons"]}
    assert states == {"a": "running", "b": "stopped"}
    assert report["outbox"] == {}
    assert report["calls"] == {"total": 0, "last_24h": 0, "by_evidence": {}, "by_pbx": {}}
    text = render_status(report)
    assert "daemon a (PBX pbx-1): running" in text and "AMI up" in text
    assert "calls: 3 completed, 1 open" in text


def test_heartbeat_is_updated_in_place(database: Database) -> None:
    engine = database.engine
    write_heartbeat(engine, "a", "pbx-1", NOW, "connecting", DETAILS, NOW)
    write_heartbeat(engine, "a", "pbx-1", NOW, "up", DETAILS, NOW + timedelta(seconds=2))
    [daemon] = read_status(engine, now=NOW + timedelta(seconds=3))["daemons"]
    assert daemon["ami_state"] == "up"
    assert daemon["heartbeat_age_s"] == 1.0


def test_a_daemon_that_stopped_beating_is_not_responding(database: Database) -> None:
    write_heartbeat(database.engine, "far:1", "pbx-1", NOW, "up", DETAILS, NOW)
    [daemon] = read_status(database.engine, now=NOW + timedelta(seconds=30))["daemons"]
    assert daemon["state"] == "not responding"


def test_a_killed_daemon_on_this_host_is_seen_gone_at_once(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    pid = dead_pid()
    monkeypatch.setattr(os, "getpid", lambda: pid)
    write_heartbeat(database.engine, f"{socket.gethostname()}:{pid}", "pbx-1", NOW, "up", DETAILS, NOW)
    [daemon] = read_status(database.engine, now=NOW + timedelta(seconds=1))["daemons"]
    assert daemon["state"].startswith("gone")


def test_calls_are_counted_by_evidence_and_by_pbx_and_each_daemon_names_its_pbx(database: Database) -> None:
    def call(call_id: str, evidence: str) -> CompletedCall:
        return CompletedCall(call_id, "in", "+48221234567", "+48601234567", "no_answer", 0, NOW, NOW, evidence)  # type: ignore[arg-type]

    record_calls(database.engine, [call("1.1", "full"), call("1.2", "gap"), call("1.3", "gap")], "pbx-a", "ami", NOW)
    record_calls(database.engine, [call("1.1", "cdr")], "pbx-b", "ami", NOW)
    write_heartbeat(database.engine, "b:1", "pbx-b", NOW, "up", DETAILS, NOW)
    report = read_status(database.engine, now=NOW)
    assert report["calls"]["by_evidence"] == {"full": 1, "gap": 2, "cdr": 1}
    assert report["calls"]["by_pbx"] == {"pbx-a": 3, "pbx-b": 1}
    assert [daemon["pbx"] for daemon in report["daemons"]] == ["pbx-b"]
    text = render_status(report)
    assert "by evidence: cdr 1, full 1, gap 2" in text
    assert "daemon b:1 (PBX pbx-b): running" in text


def test_status_shows_how_many_calls_had_disagreeing_views(database: Database) -> None:
    details = {**DETAILS, "calls": {**DETAILS["calls"], "views_disagreed": 2}}
    write_heartbeat(database.engine, "a", "pbx-1", NOW, "up", details, NOW)
    report = read_status(database.engine, now=NOW)
    assert report["daemons"][0]["calls"]["views_disagreed"] == 2
    assert "calls: 3 completed, 1 open, 0 dropped, 2 with disagreeing views" in render_status(report)
