"""Worker processes (``pbx-sms outbox work``) on one database: SIGKILL mid-burst, two at once, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from http_server import HANG, LoopbackHttpServer, Reply
from outbox_world import SqlWorld, sms, sql_world

from pbx_sms.core.sms_status import Status

PBX_SMS = str(Path(sys.executable).with_name("pbx-sms"))


@pytest.fixture
def world(database_url: str) -> Iterator[SqlWorld]:
    with sql_world(database_url) as world:
        yield world


@pytest.fixture
def server() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer() as running:
        yield running


def start_worker(
    database_url: str, server: LoopbackHttpServer, tmp_path: Path, name: str, **extra: str
) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PBX_SMS_")} | {
        "PBX_SMS_DATABASE_URL": database_url,
        "PBX_SMS_GATEWAY": "http",
        "PBX_SMS_HTTP_URL": server.url,
        "PBX_SMS_HTTP_TIMEOUT_S": "5",
        "PBX_SMS_OUTBOX_POLL_S": "0.2",
        "PBX_SMS_LOG_LEVEL": "INFO",
    }
    env |= {f"PBX_SMS_{key.upper()}": value for key, value in extra.items()}
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen([PBX_SMS, "outbox", "work"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def queue_burst(world: SqlWorld, count: int) -> None:
    account = world.account()
    now = datetime.now(UTC)
    world.store.enqueue([sms(account, to=f"+48602{i:06d}", due_at=now) for i in range(count)], now)


def all_sent(world: SqlWorld, count: int) -> Callable[[], bool]:
    return lambda: len(world.store.list(statuses=[Status.SENT])) == count


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(15)


def test_sigkill_mid_burst_loses_nothing_and_resends_with_the_same_key(
    world: SqlWorld, server: LoopbackHttpServer, database_url: str, tmp_path: Path
) -> None:
    total, answered, max_in_flight = 200, 60, 20
    queue_burst(world, total)
    # The gateway answers the first 60 sends, then none: the worker is stuck with 20 sends in flight
    # until its 5 s gateway timeout, so the kill finds them there even when this test is slow to get to it.
    server.respond_with(lambda request: Reply(200, b'{"id": "m"}') if len(server.requests) <= answered else HANG)
    first = start_worker(
        database_url, server, tmp_path, "first", outbox_lease_s="6", outbox_max_in_flight=str(max_in_flight)
    )

    def stuck() -> bool:
        return len(server.requests) > answered and len(world.store.list(statuses=[Status.SENDING])) == max_in_flight

    try:
        wait_for(stuck, 30, "20 sends in flight, unanswered")
    finally:
        first.kill()
        first.wait(10)
    in_flight = world.store.list(statuses=[Status.SENDING])
    assert 0 < len(in_flight) <= max_in_flight, "the sends in flight at the kill ended before it"

    server.respond_with(lambda request: Reply(200, b'{"id": "m"}', delay_s=0.05))
    # At least once, by choice: without it the cut-short sends wait as unclear (the next test).
    second = start_worker(database_url, server, tmp_path, "second", outbox_lease_s="6", http_resend_after_crash="true")
    try:
        wait_for(all_sent(world, total), 60, "every SMS to be sent after the restart")
    finally:
        assert stop(second) == 0
    rows = world.store.list()
    key_of = {row.to: row.idempotency_key for row in rows}
    for request in server.requests:
        assert request.headers["idempotency-key"] == request.json["id"] == key_of[request.json["to"]]
    counts = Counter(request.json["id"] for request in server.requests)
    assert set(counts) == set(key_of.values())
    resent = {key for key, count in counts.items() if count > 1}
    # Only rows leased by the killed worker may have gone out twice, each time with its own key.
    assert resent <= {row.idempotency_key for row in in_flight}
    assert all(row.attempts <= 2 for row in rows)
    assert "stopped: claimed=" in (tmp_path / "second.log").read_text()


def test_sigkill_mid_burst_holds_the_cut_short_sms_unclear_for_an_operator_by_default(
    world: SqlWorld, server: LoopbackHttpServer, database_url: str, tmp_path: Path
) -> None:
    total, answered, max_in_flight = 100, 30, 10
    queue_burst(world, total)
    server.respond_with(lambda request: Reply(200, b'{"id": "m"}') if len(server.requests) <= answered else HANG)
    first = start_worker(
        database_url, server, tmp_path, "first", outbox_lease_s="6", outbox_max_in_flight=str(max_in_flight)
    )

    def stuck() -> bool:
        return len(server.requests) > answered and len(world.store.list(statuses=[Status.SENDING])) == max_in_flight

    try:
        wait_for(stuck, 30, "10 sends in flight, unanswered")
    finally:
        first.kill()
        first.wait(10)
    cut_short = {row.id for row in world.store.list(statuses=[Status.SENDING])}
    requests_before = len(server.requests)
    server.respond_with(lambda request: Reply(200, b'{"id": "m"}', delay_s=0.02))
    second = start_worker(database_url, server, tmp_path, "second", outbox_lease_s="6")
    try:
        wait_for(lambda: len(world.store.list(statuses=[Status.UNCLEAR])) == len(cut_short), 60, "held unclear")
        wait_for(all_sent(world, total - len(cut_short)), 60, "the rest to be sent")
    finally:
        assert stop(second) == 0
    unclear = world.store.list(statuses=[Status.UNCLEAR])
    assert {row.id for row in unclear} == cut_short
    assert all(row.reason and f"outbox retry {row.id}" in row.reason for row in unclear)
    counts = Counter(request.json["id"] for request in server.requests[requests_before:])
    assert not {row.idempotency_key for row in unclear} & set(counts), "a cut-short SMS was sent again"
    assert set(Counter(request.json["id"] for request in server.requests).values()) == {1}


def test_two_worker_processes_never_send_a_row_twice(
    world: SqlWorld, server: LoopbackHttpServer, database_url: str, tmp_path: Path
) -> None:
    total = 300
    # Both workers are up before the burst, and one alone would need 1.5 s for it (300 x 50 ms / 10 in
    # flight), many of its 0.2 s polls: each takes a share, however unevenly they are scheduled.
    server.respond_with(lambda request: Reply(200, b'{"id": "m"}', delay_s=0.05))
    workers = [
        start_worker(database_url, server, tmp_path, name, outbox_max_in_flight="10", outbox_claim_batch="5")
        for name in ("a", "b")
    ]
    try:
        for name in ("a", "b"):
            log = tmp_path / f"{name}.log"
            wait_for(lambda log=log: " started (gateway " in log.read_text(), 30, f"worker {name} to start")
        queue_burst(world, total)
        wait_for(all_sent(world, total), 60, "every SMS to be sent")
    finally:
        codes = [stop(worker) for worker in workers]
    assert codes == [0, 0]
    counts = Counter(request.json["id"] for request in server.requests)
    assert len(counts) == total and set(counts.values()) == {1}
    holders = Counter(row.locked_by for row in world.store.list())
    assert holders == {None: total}
    logs = [(tmp_path / f"{name}.log").read_text() for name in ("a", "b")]
    claimed = [int(log.split("claimed=")[1].split()[0]) for log in logs]
    assert sum(claimed) == total and min(claimed) > 0, logs
