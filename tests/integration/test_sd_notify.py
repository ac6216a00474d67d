"""systemd's notify protocol against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbx_sms.daemon.sd_notify import Notifier, watchdog_interval_s


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(5)
        yield str(path), sock


def received(sock: socket.socket) -> dict[str, str]:
    message = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in message.split("\n"))


def test_ready_status_and_stopping_reach_the_socket_named_by_notify_socket(
    notify_socket: tuple[str, socket.socket],
) -> None:
    path, sock = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    notifier.status("waiting for the database\nsqlite:///x")
    assert received(sock) == {"STATUS": "waiting for the database sqlite:///x"}  # a newline would forge a field
    notifier.ready("running; AMI up")
    assert received(sock) == {"READY": "1", "STATUS": "running; AMI up"}
    notifier.extend_timeout(30)
    assert received(sock) == {"EXTEND_TIMEOUT_USEC": "30000000"}
    notifier.stopping("stopping")
    assert received(sock) == {"STOPPING": "1", "STATUS": "stopping"}


def test_the_same_status_is_not_sent_twice_in_a_row(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.status("a")
    notifier.status("a")
    notifier.status("b")
    assert received(sock) == {"STATUS": "a"}
    assert received(sock) == {"STATUS": "b"}


def test_an_abstract_namespace_socket_is_reached_by_its_at_name() -> None:
    name = f"pbx-sms-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        Notifier({"NOTIFY_SOCKET": f"@{name}"}).ready("started")
        assert received(sock) == {"READY": "1", "STATUS": "started"}


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.ready("x")
    notifier.status("y")


def test_a_vanished_socket_is_logged_once_and_never_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.WARNING):
        notifier.status("a")
        notifier.status("b")
    assert len([r for r in caplog.records if "notify socket" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_interval_is_half_of_watchdog_usec_for_this_process(
    environ: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval_s(environ, pid=4242) == expected


async def test_the_event_loop_feeds_the_watchdog_every_half_interval(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    sock.setblocking(False)
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
    assert notifier.watchdog_interval_s == 0.05
    feeding = asyncio.create_task(notifier.feed_watchdog())
    loop = asyncio.get_running_loop()
    messages = []
    try:
        async with asyncio.timeout(10):
            while len(messages) < 3:
                messages.append((await loop.sock_recv(sock, 4096)).decode())
    finally:
        feeding.cancel()
    assert messages == ["WATCHDOG=1"] * 3
