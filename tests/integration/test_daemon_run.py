"""The daemon (`pbx-sms run`) in process: the status it writes carries every counter it keeps (how
calls reach the call log through outages: tests/unit/test_call_recorder.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_ports import free_port_sections

from pbx_sms.config import AmiSettings, FastAgiSettings, Settings
from pbx_sms.daemon.run import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    daemon = Daemon(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'pbx-sms.db'}", ami=AmiSettings(enabled=False), **free_port_sections()
        )
    )
    yield daemon
    daemon.database.close()


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
        "unrecorded",
        "record_errors",
        "not_recorded",
        "longest_unrecorded_s",
        "reported_twice",
        "processing_errors",
        "bad_timestamps",
        "event_errors",
        "untracked_leg_events",
        "views_disagreed",
        "views_replaced",
    }
    assert details["tasks"] == {}  # failures and restarts per task, once one failed
    assert details["ami"] == {"state": "disabled", "last_error": None}  # ami_enabled=False


def test_the_status_details_show_the_ami_connection_when_it_is_enabled(tmp_path: Path) -> None:
    daemon = Daemon(Settings(database_url=f"sqlite:///{tmp_path / 'pbx-sms.db'}", **free_port_sections()))
    try:
        ami = daemon.status_details()["ami"]
    finally:
        daemon.database.close()
    assert ami["state"] == "stopped"
    assert {"skipped_events", "malformed_messages", "oversized_messages", "events", "connects"} <= set(ami)


def test_the_status_details_count_fastagi_requests_under_the_names_the_metrics_read(daemon: Daemon) -> None:
    assert daemon.fastagi is not None  # on by default
    daemon.fastagi.counters.requests = 3
    daemon.fastagi.counters.refused = 1
    assert daemon.status_details()["fastagi"] == {"requests": 3, "recorded": 0, "refused": 1, "errors": 0}


def test_with_fastagi_disabled_its_counters_stay_zero(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pbx-sms.db'}",
        **(free_port_sections() | {"fastagi": FastAgiSettings(enabled=False)}),
    )
    daemon = Daemon(settings)
    try:
        assert daemon.fastagi is None
        assert daemon.status_details()["fastagi"] == {"requests": 0, "recorded": 0, "refused": 0, "errors": 0}
    finally:
        daemon.database.close()
