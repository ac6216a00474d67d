"""`pbx-sms run` started by "systemd" (a real notify socket in the test) with the database unreachable:
it waits it out (one line naming the database without its password, STATUS= and the start timeout
pushed back, the watchdog fed), starts once the database answers (READY=1, /health 200), and stops
cleanly on SIGTERM, also while still waiting."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from conftest import empty_database
from ports import free_port
from sqlalchemy.engine import URL, make_url
from tcp_proxy import TcpProxy

from e2e.daemon import DaemonProcess, clean_environ, wait_until

# PostgreSQL here trusts loopback: the password is never checked, only looked for in the output.
DB_PASSWORD = "pg-Password-e2e-3c9b1f"


class FakeSystemd:
    """The service manager's end of NOTIFY_SOCKET: every datagram the daemon sent, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[dict[str, str]] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.setblocking(False)
        self._task: asyncio.Task[None] | None = None

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = (await loop.sock_recv(self._sock, 65536)).decode()
            self.messages.append(dict(line.split("=", 1) for line in data.split("\n")))

    def start(self) -> None:
        self._task = asyncio.create_task(self._receive())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sock.close()

    def seen(self, key: str, value: str | None = None) -> list[dict[str, str]]:
        return [m for m in self.messages if key in m and (value is None or value in m[key])]


@pytest.fixture
async def systemd(tmp_path: Path) -> AsyncIterator[FakeSystemd]:
    fake = FakeSystemd(tmp_path / "notify.sock")
    fake.start()
    yield fake
    await fake.close()


def run_env(database_url: str, notify: Path, metrics_port: int) -> dict[str, str]:
    settings = {
        "PBX_SMS_DATABASE_URL": database_url,
        "PBX_SMS_AMI_ENABLED": "false",
        "PBX_SMS_METRICS_PORT": str(metrics_port),
        "PBX_SMS_FASTAGI_PORT": "0",  # not 4573, which a parallel test's daemon may hold
        "PBX_SMS_OUTBOX_POLL_S": "0.2",
    }
    return clean_environ() | settings | {"NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "400000"}


async def health(port: int) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/health", timeout=aiohttp.ClientTimeout(total=10)) as response,
    ):
        return response.status, await response.json()


async def test_with_postgresql_unreachable_it_waits_then_starts_once_it_answers(
    tmp_path: Path, systemd: FakeSystemd
) -> None:
    with empty_database("postgresql", tmp_path) as schema_url:
        await _wait_for_postgresql_then_start(make_url(schema_url), tmp_path, systemd)


async def _wait_for_postgresql_then_start(upstream: URL, tmp_path: Path, systemd: FakeSystemd) -> None:
    proxy = TcpProxy("127.0.0.1", upstream.port or 5432)  # not started: the port refuses connections
    url = upstream.set(host="127.0.0.1", port=proxy.port, password=DB_PASSWORD).render_as_string(hide_password=False)
    metrics_port = free_port()
    async with DaemonProcess(run_env(url, systemd.path, metrics_port), tmp_path, "daemon") as daemon:
        try:
            await daemon.wait_output("waiting for it", 30)
            await wait_until(lambda: len(systemd.seen("WATCHDOG")) >= 3, 30, "the watchdog fed while waiting")
            await wait_until(lambda: systemd.seen("STATUS", "waiting for the database"), 30, "STATUS: waiting")
            assert systemd.seen("EXTEND_TIMEOUT_USEC"), "the start timeout must be pushed back while waiting"
            assert not systemd.seen("READY"), "not ready before the database answers"
            status, waiting_health = await health(metrics_port)
            assert status == 503 and waiting_health["status"] == "starting", waiting_health
            assert "waiting for the database" in waiting_health["reason"] and DB_PASSWORD not in str(waiting_health)
            proxy.start()
            await wait_until(lambda: systemd.seen("READY", "1"), 60, "READY=1 once the database answers")
            assert (await health(metrics_port))[0] == 200
            assert await daemon.terminate() == 0, daemon.output[-3000:]
        finally:
            proxy.stop()
    output = daemon.output
    waiting = [line for line in output.splitlines() if "unreachable" in line]
    assert len(waiting) == 1, waiting  # one line, not one per retry
    assert f"127.0.0.1:{proxy.port}" in waiting[0] and "***" in waiting[0] and "Connection refused" in waiting[0]
    assert "answers after" in output and "Traceback" not in output
    assert DB_PASSWORD not in output
    assert not [m for m in systemd.messages if DB_PASSWORD in str(m)]
    ready = systemd.seen("READY")[0]
    assert ready["STATUS"].startswith("running; AMI disabled")
    assert systemd.seen("STOPPING", "1")
    assert systemd.seen("STATUS")[-1]["STATUS"].startswith("stopping"), "no 'running' status after STOPPING=1"


async def test_sigterm_while_waiting_for_the_database_stops_at_once_without_a_traceback(
    tmp_path: Path, systemd: FakeSystemd
) -> None:
    # A SQLite database in a directory that is not there (not mounted yet): unable to open it.
    url = f"sqlite:///{tmp_path / 'not-mounted' / 'pbx-sms.db'}"
    async with DaemonProcess(run_env(url, systemd.path, free_port()), tmp_path, "daemon") as daemon:
        await daemon.wait_output("waiting for it", 30)
        assert await daemon.terminate(timeout_s=10) == 0, daemon.output[-3000:]
    assert "stopped while waiting for the database" in daemon.output
    assert "Traceback" not in daemon.output
    assert not systemd.seen("READY")


async def test_a_sqlite_directory_that_appears_later_is_used_once_it_is_there(
    tmp_path: Path, systemd: FakeSystemd
) -> None:
    directory = tmp_path / "mounted-later"
    url = f"sqlite:///{directory / 'pbx-sms.db'}"
    async with DaemonProcess(run_env(url, systemd.path, free_port()), tmp_path, "daemon") as daemon:
        await daemon.wait_output("unable to open database file", 30)
        directory.mkdir()
        await wait_until(lambda: systemd.seen("READY", "1"), 60, "READY=1 once the file can be opened")
        assert await daemon.terminate() == 0, daemon.output[-3000:]
    assert (directory / "pbx-sms.db").is_file()
    assert re.search(r"database .* answers after \d+ s; starting", daemon.output)
