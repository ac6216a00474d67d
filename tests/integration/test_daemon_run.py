"""The daemon (`pbx-sms run`) in process: each call from the AMI listener reaches the intake through a
database outage for as long as it lasts, with a growing delay, while a call whose own error comes back
every time is dropped after a few tries; the status it writes carries every counter it keeps."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from pbx_sms.config import AmiSettings, Settings
from pbx_sms.core.backoff import Backoff, Jitter
from pbx_sms.core.call import CompletedCall
from pbx_sms.daemon import run
from pbx_sms.daemon.run import INTAKE_MAX_OTHER_ERRORS, INTAKE_RETRY, Daemon

END = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CALL = CompletedCall("1795574695.4", "in", "+48221234567", "+48601234567", "no_answer", 0, END, END)


class FlakyIntake:
    """Stands in for CallIntake.submit: fails with the given errors, in order, then records the call."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.attempts = 0
        self.recorded: list[CompletedCall] = []

    def submit(self, call: CompletedCall, source: str) -> None:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        self.recorded.append(call)


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    monkeypatch.setattr(run, "INTAKE_RETRY", Backoff(0.001, 0.004, Jitter.NONE))
    daemon = Daemon(Settings(database_url=f"sqlite:///{tmp_path / 'pbx-sms.db'}", ami=AmiSettings(enabled=False)))
    yield daemon
    daemon.database.close()


def outage() -> OperationalError:
    return OperationalError("INSERT INTO calls", {}, Exception("connection refused"))


def test_the_retry_delay_doubles_from_half_a_second_to_thirty_seconds() -> None:
    delays = [INTAKE_RETRY.delay_s(attempt, random) for attempt in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


async def test_a_database_outage_is_waited_out_however_many_tries_it_takes(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pbx_sms.daemon")
    intake = FlakyIntake([outage() for _ in range(INTAKE_MAX_OTHER_ERRORS + 2)])
    monkeypatch.setattr(daemon.intake, "submit", intake.submit)
    await daemon._on_call(CALL)
    assert intake.recorded == [CALL]
    assert daemon.intake_errors == INTAKE_MAX_OTHER_ERRORS + 2
    delays = [record.getMessage().rsplit("retrying in ", 1)[1] for record in caplog.records]
    assert delays == ["0.001 s", "0.002 s", "0.004 s", "0.004 s", "0.004 s"]


async def test_a_call_whose_own_error_comes_back_is_dropped_after_a_few_tries(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    intake = FlakyIntake([ValueError("bad call") for _ in range(10)])
    monkeypatch.setattr(daemon.intake, "submit", intake.submit)
    await daemon._on_call(CALL)
    assert intake.attempts == INTAKE_MAX_OTHER_ERRORS
    assert intake.recorded == []
    assert "cannot be recorded; dropped" in caplog.text


async def test_outage_errors_do_not_count_toward_dropping_a_call(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[Exception] = [ValueError("once"), outage(), outage(), outage(), ValueError("twice")]
    intake = FlakyIntake(errors)
    monkeypatch.setattr(daemon.intake, "submit", intake.submit)
    await daemon._on_call(CALL)
    assert intake.recorded == [CALL]
    assert intake.attempts == 6


def test_the_status_details_carry_the_listener_tracker_parser_and_intake_counters(daemon: Daemon) -> None:
    details = daemon.status_details()
    assert set(details["calls"]) >= {
        "open_calls",
        "completed_calls",
        "dropped_calls",
        "unknown_channel_events",
        "malformed_events",
        "orphan_cdrs",
        "recorded",
        "reported_twice",
        "processing_errors",
    }
    assert details["ami"] == {"state": "disabled", "last_error": None}  # ami_enabled=False


def test_the_status_details_show_the_ami_connection_when_it_is_enabled(tmp_path: Path) -> None:
    daemon = Daemon(Settings(database_url=f"sqlite:///{tmp_path / 'pbx-sms.db'}"))
    try:
        ami = daemon.status_details()["ami"]
    finally:
        daemon.database.close()
    assert ami["state"] == "stopped"
    assert {"skipped_events", "malformed_messages", "oversized_messages", "events", "connects"} <= set(ami)
