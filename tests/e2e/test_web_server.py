"""`pbx-sms web` as a real process: it serves on the port asked, logs one line per request, and on
SIGTERM or SIGINT stops accepting, finishes the request in flight and exits 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ports import free_port

from e2e.daemon import PBX_SMS, clean_environ

START_TIMEOUT_S = 60.0
BODY = json.dumps({"user": "nobody", "password": "not-the-password"}).encode()


def _status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def _wait_until_answering(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"pbx-sms web exited with {process.returncode}"
        try:
            _status_of(url)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"pbx-sms web did not answer at {url} within {START_TIMEOUT_S} s")


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = free_port()
    stderr = tmp_path / "stderr.log"
    env = clean_environ() | {"PBX_SMS_DATABASE_URL": database_url, "PBX_SMS_WEB_PORT": "1"}
    with stderr.open("wb") as errors:
        process = subprocess.Popen([PBX_SMS, "web", "--port", str(port)], env=env, stderr=errors)
    try:
        _wait_until_answering(process, f"http://127.0.0.1:{port}/api/v1/me")
        yield process, port, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_finishes_the_request_in_flight_then_exits_0(
    server: tuple[subprocess.Popen[bytes], int, Path], stop: signal.Signals
) -> None:
    process, port, stderr = server
    assert _status_of(f"http://127.0.0.1:{port}/api/v1/me") == 401  # --port won over PBX_SMS_WEB_PORT=1
    with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
        # A login whose body is still on its way when the stop signal comes.
        head = (
            # Sent as by a reverse proxy on this host: the login is throttled by the client's address.
            f"POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 192.0.2.9\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n"
        )
        slow.sendall(head.encode() + BODY[:10])
        # Once a later request on another connection is answered, the server (one event loop, which
        # reads every socket that is ready) has read this one's headers: the request is in flight.
        assert _status_of(f"http://127.0.0.1:{port}/api/v1/me") == 401
        process.send_signal(stop)
        deadline = time.monotonic() + 30
        while not _refuses_connections(port):
            assert time.monotonic() < deadline, f"still accepting connections after {stop.name}"
            time.sleep(0.05)
        assert process.poll() is None, "exited with a request in flight"
        slow.sendall(BODY[10:])
        answer = b""
        while chunk := slow.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 401 Unauthorized"
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {"detail": "wrong user name or password"}
    assert process.wait(timeout=30) == 0
    log = stderr.read_text(encoding="utf-8")
    assert f"listening on http://127.0.0.1:{port}" in log
    assert "GET /api/v1/me 401 - " in log
    assert "POST /api/v1/session 401 - " in log
    assert "login failed for user 'nobody' from 192.0.2.9: no such user" in log
    assert "not-the-password" not in log
