"""/health's verdict (pure): the database answers, and AMI (when on) is up or down for less than the limit."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from pbx_sms.daemon.endpoint import database_problem, judge_health
from pbx_sms.daemon.probes import ProbeBusy, reason_kind
from pbx_sms.daemon.startup import outage_reason

UP = {"state": "up", "down_since": None}


def test_healthy_while_the_database_answers_and_ami_is_up() -> None:
    health = judge_health(None, UP, ami_enabled=True, now_s=100.0, ami_down_max_s=60)
    assert (health.ok, health.body) == (True, {"status": "ok", "database": "ok", "ami": "up"})


@pytest.mark.parametrize(("down_for_s", "ok"), [(0.0, True), (59.9, True), (60.0, False), (3600.0, False)])
def test_ami_down_fails_only_once_it_lasts_the_limit(down_for_s: float, ok: bool) -> None:
    ami = {"state": "connecting", "down_since": 1000.0}
    health = judge_health(None, ami, ami_enabled=True, now_s=1000.0 + down_for_s, ami_down_max_s=60)
    assert health.ok is ok
    assert health.body["ami"].startswith("connecting for")
    if not ok:
        assert health.body["reason"] == f"AMI connection not up for {down_for_s:.0f} s (limit 60 s)"


def test_ami_disabled_is_never_a_reason() -> None:
    ami = {"state": "disabled", "last_error": None}
    health = judge_health(None, ami, ami_enabled=False, now_s=1e9, ami_down_max_s=1)
    assert (health.ok, health.body["ami"]) == (True, "disabled")


def test_the_database_not_answering_fails_with_both_reasons_when_ami_is_down_too() -> None:
    ami = {"state": "down", "down_since": 0.0}
    health = judge_health("did not answer in time", ami, ami_enabled=True, now_s=500.0, ami_down_max_s=60)
    assert not health.ok
    assert health.body["database"] == "unreachable: did not answer in time"
    assert health.body["reason"] == (
        "database unreachable: did not answer in time; AMI connection not up for 500 s (limit 60 s)"
    )


def test_database_problems_name_the_kind_never_the_drivers_message() -> None:
    error = OperationalError("SELECT 1", {}, Exception('password "hunter2" in a message'))
    assert database_problem(error) == "query failed (OperationalError)"
    assert database_problem(TimeoutError()) == "did not answer in time"
    assert "not returned" in database_problem(ProbeBusy("the previous query has not returned after 2 s"))


def test_the_waiting_line_takes_the_drivers_first_line_without_sqlalchemys_wrapping() -> None:
    original = Exception('connection failed: connection to server at "127.0.0.1", port 1 failed: refused\n\tIs it up?')
    error = OperationalError("select", {}, original)
    assert outage_reason(error) == 'connection failed: connection to server at "127.0.0.1", port 1 failed: refused'


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        (None, "none"),
        ("daily_cap_reached", "daily_cap_reached"),
        ("min_interval", "min_interval"),
        ("permanent: HTTP 400: invalid number +48600111222", "permanent"),
        ("gave up after 10 attempts: timeout", "gave_up"),
        ("something a gateway said about +48600111222", "other"),
    ],
)
def test_outbox_reasons_become_label_values_from_a_fixed_vocabulary(reason: str | None, kind: str) -> None:
    assert reason_kind(reason) == kind
