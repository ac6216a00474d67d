"""systemd's notify protocol (sd_notify(3)) without a dependency: one datagram per message on the
AF_UNIX socket named by ``NOTIFY_SOCKET`` (``@name`` is Linux's abstract namespace).

The daemon says READY=1 once it listens and its worker runs, STATUS= lines about what it waits for, and
WATCHDOG=1 from its event loop, so systemd restarts a daemon whose loop hangs (``WatchdogSec=``). Outside
systemd (no NOTIFY_SOCKET) every call does nothing. A failed send is logged once and never raised: the
service manager going away must not stop the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"


def socket_address(name: str) -> str | bytes:
    """``NOTIFY_SOCKET``'s value as an address for ``socket.sendto``: a path, or (``@…``) an abstract name."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def watchdog_interval_s(environ: Mapping[str, str], pid: int) -> float | None:
    """How often to send WATCHDOG=1 (half of systemd's ``WATCHDOG_USEC``, as sd_watchdog_enabled(3)
    advises); None when the watchdog is off or meant for another process (``WATCHDOG_PID``)."""
    usec = environ.get(WATCHDOG_USEC_ENV, "")
    owner = environ.get(WATCHDOG_PID_ENV, "")
    if owner and owner != str(pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None


class Notifier:
    """Messages to the service manager; every method is a no-op when not started by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None, pid: int | None = None) -> None:
        environ = os.environ if environ is None else environ
        name = environ.get(NOTIFY_SOCKET_ENV, "")
        self._address = socket_address(name) if name else None
        self.watchdog_interval_s = watchdog_interval_s(environ, os.getpid() if pid is None else pid)
        self._failed = False
        self._last_status: str | None = None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def last_status(self) -> str | None:
        """The last STATUS= text (kept also outside systemd: /health says it while starting)."""
        return self._last_status

    def send(self, **fields: str) -> None:
        """One message: ``send(READY="1", STATUS="…")`` → ``READY=1\\nSTATUS=…``."""
        if self._address is None:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message, self._address)
        except OSError as exc:
            if not self._failed:
                log.warning("systemd notify socket: cannot send (%s); systemd may not see the daemon's state", exc)
            self._failed = True

    def status(self, text: str) -> None:
        """A STATUS= line (``systemctl status`` shows it); the same text again is not re-sent."""
        # A newline would end the field: the rest would be read as another assignment.
        line = " ".join(text.split())
        if line != self._last_status:
            self._last_status = line
            self.send(STATUS=line)

    def ready(self, status: str) -> None:
        self._last_status = " ".join(status.split())
        self.send(READY="1", STATUS=self._last_status)

    def stopping(self, status: str) -> None:
        self._last_status = " ".join(status.split())
        self.send(STOPPING="1", STATUS=self._last_status)

    def extend_timeout(self, seconds: float) -> None:
        """Start-up is still under way (waiting for the database): systemd's start timeout is pushed back
        by ``seconds`` from now, so a long outage is waited out instead of killed."""
        self.send(EXTEND_TIMEOUT_USEC=str(int(seconds * 1_000_000)))

    async def feed_watchdog(self) -> None:
        """WATCHDOG=1 every half interval, from the event loop itself: a loop that hangs stops feeding."""
        interval_s = self.watchdog_interval_s
        if self._address is None or interval_s is None:
            return
        while True:
            self.send(WATCHDOG="1")
            await asyncio.sleep(interval_s)
