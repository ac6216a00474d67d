"""``pbx-sms outbox list|retry|cancel`` and ``pbx-sms log`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from outbox_world import SqlWorld, sms, sql_world
from typer.testing import CliRunner

from pbx_sms.cli.main import app
from pbx_sms.config import load_settings
from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.config import WorkerConfig
from pbx_sms.outbox.model import Failed, Sent

runner = CliRunner()
CALLER = "+48602000001"


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlWorld]:
    monkeypatch.setenv("PBX_SMS_DATABASE_URL", database_url)
    monkeypatch.delenv("PBX_SMS_CONFIG", raising=False)
    with sql_world(database_url) as world:
        yield world


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def fill(world: SqlWorld) -> dict[str, int]:
    """One queued, one failed, one sent SMS; returns their ids by status."""
    account = world.account()
    now = datetime.now(UTC)
    report = world.store.enqueue(
        [
            sms(account, to=CALLER, due_at=now + timedelta(hours=1)),
            sms(account, to="+48602000002", due_at=now),
            sms(account, to="+48602000003", due_at=now, rule_id=2),
        ],
        now,
    )
    queued, failing, sending = report.queued
    world.store.claim_due("cli-test", now, 2, 30)
    world.store.apply("cli-test", [Failed(failing, "permanent: HTTP 400: invalid number")], now)
    return {"queued": queued, "failed": failing, "sending": sending}


def test_outbox_list_shows_pending_sms(world: SqlWorld) -> None:
    ids = fill(world)
    code, output = run("outbox", "list")
    assert code == 0
    lines = output.splitlines()
    assert lines[0].split()[:4] == ["ID", "STATUS", "DUE", "TO"]
    assert {line.split()[0] for line in lines[1:]} == {str(ids["queued"]), str(ids["sending"])}
    code, output = run("outbox", "list", "--status", "failed", "--json")
    assert code == 0
    [row] = json.loads(output)
    assert (row["id"], row["status"], row["reason"]) == (ids["failed"], "failed", "permanent: HTTP 400: invalid number")
    assert row["idempotency_key"] and row["rule_name"] == "rule 1"


def test_outbox_list_rejects_an_unknown_status(world: SqlWorld) -> None:
    code, output = run("outbox", "list", "--status", "lost")
    assert code == 1
    assert "--status: unknown status 'lost'" in output and "queued" in output


def test_outbox_retry_and_cancel(world: SqlWorld) -> None:
    ids = fill(world)
    assert run("outbox", "retry", str(ids["failed"])) == (0, f"SMS {ids['failed']} to +48602000002 queued again\n")
    retried = world.store.get(ids["failed"])
    assert retried and retried.status is Status.QUEUED and retried.attempts == 0
    code, _ = run("outbox", "cancel", str(ids["queued"]))
    assert code == 0
    cancelled = world.store.get(ids["queued"])
    assert cancelled and (cancelled.status, cancelled.reason) == (Status.CANCELLED, "cancelled_by_admin")
    code, output = run("outbox", "cancel", str(ids["sending"]))
    assert code == 1 and "is sending; only queued SMS can be cancelled" in output
    code, output = run("outbox", "retry", "424242")
    assert code == 1 and "no SMS with id 424242" in output


def test_an_sms_cut_short_by_a_crash_is_shown_unclear_and_an_operator_retries_it(world: SqlWorld) -> None:
    account = world.account()
    now = datetime.now(UTC)
    [row_id] = world.store.enqueue([sms(account, to=CALLER, due_at=now)], now).queued
    world.store.claim_due("killed", now, 1, 30)
    world.store.claim_due("next", now + timedelta(seconds=30), 10, 30, resend_interrupted=False)
    code, output = run("outbox", "list")
    assert code == 0
    [line] = output.splitlines()[1:]
    assert line.split()[:2] == [str(row_id), "unclear"] and f"pbx-sms outbox retry {row_id}" in line
    code, output = run("log", "--status", "unclear", "--json")
    assert code == 0 and [entry["id"] for entry in json.loads(output)] == [row_id]
    code, output = run("status")
    assert "unclear 1" in output
    assert run("outbox", "retry", str(row_id)) == (0, f"SMS {row_id} to {CALLER} queued again\n")
    retried = world.store.get(row_id)
    assert retried and (retried.status, retried.reason, retried.unclear_since) == (Status.QUEUED, None, None)


def test_log_filters_by_number_status_and_time(world: SqlWorld) -> None:
    ids = fill(world)
    code, output = run("log", "--number", "602 000 001", "--json")  # national format, read with country PL
    assert code == 0
    assert [row["id"] for row in json.loads(output)] == [ids["queued"]]
    code, output = run("log", "--status", "failed", "--since", "1h")
    assert code == 0
    assert output.splitlines()[1].split()[0] == str(ids["failed"])
    assert "permanent: HTTP 400: invalid number" in output
    code, output = run("log", "--since", (datetime.now(UTC) + timedelta(hours=1)).isoformat())
    assert (code, output.strip()) == (0, "(none)")
    code, output = run("log", "--json")
    assert {row["status"] for row in json.loads(output)} == {"queued", "failed", "sending"}


def test_log_shows_the_delivery_status_and_filters_by_it(world: SqlWorld) -> None:
    account = world.account()
    now = datetime.now(UTC)
    numbers = ("+48602000011", "+48602000012", "+48602000013")
    world.store.enqueue([sms(account, to=number, due_at=now) for number in numbers], now)
    rows = world.store.claim_due("cli-test", now, 3, 30)
    world.store.apply("cli-test", [Sent(row.id, "smsapi", f"msg-{row.to}") for row in rows], now)
    world.report("smsapi", "msg-+48602000011", DeliveryStatus.DELIVERED, None, now)
    world.report("smsapi", "msg-+48602000012", DeliveryStatus.UNDELIVERED, "405", now)
    by_to = {row.to: row.id for row in rows}
    code, output = run("log")
    assert code == 0
    lines = output.splitlines()
    assert lines[0].split()[:4] == ["ID", "CREATED", "STATUS", "DELIVERY"]
    shown = {line.split()[0]: line.split()[3:5] for line in lines[1:]}
    assert shown[str(by_to["+48602000011"])][0] == "delivered"
    assert shown[str(by_to["+48602000012"])] == ["undelivered", "(405)"]
    assert shown[str(by_to["+48602000013"])][0] == "unknown"
    code, output = run("log", "--delivery", "undelivered", "--json")
    assert code == 0
    [entry] = json.loads(output)
    assert entry["id"] == by_to["+48602000012"] and entry["delivery_status"] == "undelivered"
    assert (entry["delivery"]["status"], entry["delivery"]["code"]) == ("undelivered", "405")
    code, output = run("log", "--delivery", "unknown", "--json")
    assert [entry["id"] for entry in json.loads(output)] == [by_to["+48602000013"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "last tuesday"), "--since: expected a time like 2h"),
        (("--number", "hello"), "--number: 'hello'"),
        (("--delivery", "sent"), "--delivery: unknown delivery status 'sent' (expected one of: delivered, undelivered"),
    ],
)
def test_log_rejects_bad_filters(world: SqlWorld, args: tuple[str, str], message: str) -> None:
    code, output = run("log", *args)
    assert code == 1 and message in output


def test_worker_config_from_settings() -> None:
    settings = load_settings(
        environ={
            "PBX_SMS_OUTBOX_MAX_IN_FLIGHT": "50",
            "PBX_SMS_OUTBOX_RETRY_MAX_ATTEMPTS": "4",
            "PBX_SMS_OUTBOX_LEASE_S": "20",
        }
    )
    config = WorkerConfig.from_settings(settings)
    assert (config.max_in_flight, config.retry.max_attempts, config.lease_for(10)) == (50, 4, 20)
    assert WorkerConfig().lease_for(10) == 25


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PBX_SMS_OUTBOX_POLL_S": "often"}, "PBX_SMS_OUTBOX_POLL_S: expected a number"),
        ({"PBX_SMS_OUTBOX_MAX_IN_FLIGHT": "0"}, "PBX_SMS_OUTBOX_MAX_IN_FLIGHT: expected more than 0"),
        ({"PBX_SMS_OUTBOX_MAX_INFLIGHT": "5"}, "PBX_SMS_OUTBOX_MAX_INFLIGHT: unknown setting"),
        ({"PBX_SMS_OUTBOX_RETRY_BASE_S": "100", "PBX_SMS_OUTBOX_RETRY_MAX_S": "10"}, "PBX_SMS_OUTBOX_RETRY_"),
    ],
)
def test_worker_config_errors_name_the_setting(environ: dict[str, str], message: str) -> None:
    from pbx_sms.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        WorkerConfig.from_settings(load_settings(environ=environ))


def test_a_lease_shorter_than_the_gateway_timeout_is_refused() -> None:
    from pbx_sms.config import ConfigError

    with pytest.raises(ConfigError, match="does not outlast the gateway timeout"):
        WorkerConfig(lease_s=5).lease_for(10)
