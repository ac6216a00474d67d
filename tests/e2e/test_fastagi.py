"""`pbx-sms run` serving FastAGI, against the spawned hook, on SQLite and PostgreSQL.

A fake Asterisk (tests/fake_asterisk.py) sends the same AGI requests to the spawned script
(agi-bin/pbx-sms-hangup.agi, as PBX "hook-pbx") and to the daemon's FastAGI server (as PBX
"fastagi-pbx"): both must record the same calls, and refuse the same requests. Then the database
hangs (a SQLite write lock, a PostgreSQL table lock held by another connection): the server still
answers at once, and the call is in the call log once the database is back.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fake_asterisk import agi_values, environment_lines, fastagi_request, run_hook
from ports import free_port
from sqlalchemy import select
from sqlalchemy.engine import make_url

from e2e.daemon import PBX_SMS, DaemonProcess, DatabaseView, clean_environ, wait_until
from pbx_sms.db.calls_table import calls_table
from pbx_sms.storage.database import open_database

HOOK_PBX = "hook-pbx"
FASTAGI_PBX = "fastagi-pbx"
STARTUP_TIMEOUT_S = 30.0
WAIT_S = 20.0
# "Within milliseconds": the bound leaves room for a loaded 2-CPU test machine.
ANSWER_BOUND_S = 0.5
# Columns that differ by design between the two reports of one request.
NOT_COMPARED = ("pbx", "received_at", "processed_at", "account")

REQUESTS: dict[str, list[str]] = {
    "answered": agi_values(linkedid="1.1"),
    "queue-timeout-anonymous": agi_values(
        linkedid="1.2", dial_status="", answered_time="", queue_status="TIMEOUT", other_party="anonymous"
    ),
    "queue-member-answered": agi_values(
        linkedid="1.3", dial_status="", answered_time="", answered_epoch="1700000100", member_interface="PJSIP/201"
    ),
    "busy": agi_values(linkedid="1.4", dial_status="BUSY", answered_time="", hangup_cause="17"),
    "caller-id-with-commas": [*agi_values(linkedid="1.5")[:-1], "60234", "5678"],
    "outbound": agi_values(linkedid="1.6", direction="out", did="+48221234567", other_party="+4930123456"),
    "nothing-dialled-cause-busy": agi_values(linkedid="1.7", dial_status="", answered_time="", hangup_cause="17"),
    # Not calls: refused by both.
    "untagged": agi_values(linkedid="2.1", direction=""),
    "line-break-override": agi_values(linkedid="2.2", did="+48221234567\nagi_arg_2: out"),
    "oversized-caller-id": agi_values(linkedid="2.3", other_party="6" * 300),
    "outdated-dialplan": ["2.4", "in", "1700000000"],
}
NOT_RECORDED = {"2.1", "2.2", "2.3", "2.4"}


@pytest.fixture
async def daemon(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[DaemonProcess, int]]:
    open_database(database_url).close()
    env = clean_environ() | {
        "PBX_SMS_DATABASE_URL": database_url,
        "PBX_SMS_PBX_NAME": FASTAGI_PBX,
        "PBX_SMS_AMI_ENABLED": "false",
        "PBX_SMS_GATEWAY": "log",
        "PBX_SMS_LOG_PATH": str(tmp_path / "sms.jsonl"),
        "PBX_SMS_FASTAGI_PORT": "0",
        "PBX_SMS_METRICS_PORT": str(free_port()),  # not 9464, which a parallel test's daemon may hold
        "PBX_SMS_LOG_LEVEL": "INFO",
    }
    async with DaemonProcess(env, tmp_path, "daemon") as process:
        await process.wait_output("FastAGI listening on 127.0.0.1:", STARTUP_TIMEOUT_S)
        match = re.search(r"FastAGI listening on 127\.0\.0\.1:(\d+)", process.output)
        assert match is not None
        yield process, int(match[1])
        if process.running:
            assert await process.terminate() == 0, process.output[-3000:]


def pbx_rows(view: DatabaseView, pbx: str) -> dict[str, dict[str, Any]]:
    with view.engine.connect() as conn:
        query = select(calls_table).where(calls_table.c.pbx == pbx)
        return {
            row["call_id"]: {key: value for key, value in dict(row).items() if key not in NOT_COMPARED}
            for row in conn.execute(query).mappings()
        }


async def test_the_spawned_hook_and_the_fastagi_server_record_the_same_calls(
    database_url: str, daemon: tuple[DaemonProcess, int]
) -> None:
    process, port = daemon
    hook_settings = {"PBX_SMS_DATABASE_URL": database_url, "PBX_SMS_PBX_NAME": HOOK_PBX, "PBX_SMS_COUNTRY": "PL"}
    for name, args in REQUESTS.items():
        hook = await asyncio.to_thread(run_hook, hook_settings, args)
        assert hook.returncode == 0, (name, hook.stderr)
        exchange = await fastagi_request(port, args)
        assert len(exchange.commands) == len(hook.commands), (name, exchange.commands, hook.commands)
    view = DatabaseView(database_url)
    try:
        expected_ids = {args[0] for args in REQUESTS.values()} - NOT_RECORDED
        await wait_until(lambda: set(pbx_rows(view, FASTAGI_PBX)) == expected_ids, WAIT_S, "the FastAGI calls")
        hook_rows, fastagi_rows = pbx_rows(view, HOOK_PBX), pbx_rows(view, FASTAGI_PBX)
        assert set(hook_rows) == expected_ids
        assert fastagi_rows == hook_rows
        assert {row["source"] for row in fastagi_rows.values()} == {"agi"}
    finally:
        view.close()
    assert await process.terminate() == 0
    view = DatabaseView(database_url)
    try:
        counters = view.final_report(process)["fastagi"]
    finally:
        view.close()
    assert counters == {"requests": len(REQUESTS), "recorded": 7, "refused": 0, "errors": 4}


class HeldLock:
    """Another client holding the call log's write lock until released."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: psycopg.Connection[Any] | None = None

    def hold(self) -> None:
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite":
            self._sqlite = sqlite3.connect(url.database or "", isolation_level=None)
            self._sqlite.execute("BEGIN EXCLUSIVE")
            return
        self._postgres = psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
        self._postgres.execute("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("ROLLBACK")
            self._sqlite.close()
        if self._postgres is not None:
            self._postgres.rollback()
            self._postgres.close()


async def test_a_hanging_database_does_not_hold_up_asterisk(
    database_url: str, daemon: tuple[DaemonProcess, int]
) -> None:
    _process, port = daemon
    lock = HeldLock(database_url)
    await asyncio.to_thread(lock.hold)
    try:
        exchanges = [await fastagi_request(port, agi_values(linkedid=f"3.{n}")) for n in range(5)]
        for exchange in exchanges:
            assert exchange.answer_s is not None and exchange.answer_s < ANSWER_BOUND_S, exchange
            assert exchange.wall_s < ANSWER_BOUND_S, exchange
            assert "handed to the call log" in exchange.commands[0]
        await asyncio.sleep(1.0)  # the recorder is stuck on the lock meanwhile: nothing may be lost
    finally:
        await asyncio.to_thread(lock.release)
    view = DatabaseView(database_url)
    try:
        wanted = {f"3.{n}" for n in range(5)}
        await wait_until(lambda: set(pbx_rows(view, FASTAGI_PBX)) == wanted, WAIT_S, "the calls once the lock is gone")
    finally:
        view.close()


async def test_a_hangup_mid_request_leaves_the_daemon_serving(daemon: tuple[DaemonProcess, int]) -> None:
    _process, port = daemon
    half = "\n".join(["agi_network: yes", *environment_lines(agi_values())[:8]]).encode()
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(half)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    exchange = await fastagi_request(port, agi_values(linkedid="4.1"))
    assert "handed to the call log" in exchange.commands[0]
    assert exchange.wall_s < ANSWER_BOUND_S


async def test_a_call_handed_over_just_before_sigterm_is_still_recorded(
    database_url: str, daemon: tuple[DaemonProcess, int]
) -> None:
    process, port = daemon
    exchange = await fastagi_request(port, agi_values(linkedid="5.1"))
    assert "handed to the call log" in exchange.commands[0]
    assert await process.terminate() == 0  # at once: FastAGI stops first, the recorder writes what it holds
    view = DatabaseView(database_url)
    try:
        assert "5.1" in pbx_rows(view, FASTAGI_PBX)
    finally:
        view.close()


def run_exits(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PBX_SMS, "run"], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_listening_beyond_loopback_without_allow_list_and_secret_is_refused_at_start_up(tmp_path: Path) -> None:
    env = clean_environ() | {
        "PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'pbx-sms.db'}",
        "PBX_SMS_AMI_ENABLED": "false",
        "PBX_SMS_METRICS_ENABLED": "false",  # not the default port, which a running daemon may hold
        "PBX_SMS_FASTAGI_HOST": "0.0.0.0",
        "PBX_SMS_FASTAGI_ALLOW": "192.0.2.0/24",
    }
    result = run_exits(env, tmp_path)
    assert result.returncode != 0
    assert "FastAGI host '0.0.0.0' is not a loopback address: listening there needs PBX_SMS_FASTAGI_SECRET" in (
        result.stdout + result.stderr
    )


def test_a_port_in_use_is_a_clear_start_up_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = clean_environ() | {
            "PBX_SMS_DATABASE_URL": f"sqlite:///{tmp_path / 'pbx-sms.db'}",
            "PBX_SMS_AMI_ENABLED": "false",
            "PBX_SMS_METRICS_ENABLED": "false",
            "PBX_SMS_FASTAGI_PORT": str(port),
        }
        result = run_exits(env, tmp_path)
    assert result.returncode != 0
    assert f"cannot listen for FastAGI on 127.0.0.1:{port}: Address already in use (" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
