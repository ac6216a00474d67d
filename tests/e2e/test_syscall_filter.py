"""The daemon stays inside the system calls and socket families its systemd unit allows.

No systemd runs the tests to enforce deploy/pbx-sms.service, so this does the check its seccomp filter
would make: `pbx-sms db upgrade` and `pbx-sms run` (a busy hour over the fake AMI, SMS to a loopback
HTTP gateway, SIGTERM) run under ``strace -f``, and every system call of every thread is compared with
what the unit's SystemCallFilter= lines allow (expanded by ``systemd-analyze syscall-filter``), every
socket() family with RestrictAddressFamilies=. A call outside them would fail with EPERM in
production, somewhere no other test looks.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from ami_server import FakeAmiServer, load_recording_events, move_to_now
from http_server import LoopbackHttpServer
from paths import FIXTURES, ROOT
from systemd_units import parse_unit

from e2e.daemon import (
    AMI_SECRET,
    AMI_USER,
    PBX_SMS,
    DaemonProcess,
    daemon_env,
    set_up_database,
    wait_until,
)

UNIT = ROOT / "deploy" / "pbx-sms.service"
PRUNE_UNIT = ROOT / "deploy" / "pbx-sms-prune.service"
STARTUP_TIMEOUT_S = 60.0  # the daemon starts several times slower under strace
RULES = """\
account: default
rules:
  - name: Missed call
    when: {direction: any, numbers: all, status: [no_answer, busy]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed you: call {number}.", delay_s: 0}
  - name: Thanks
    when: {direction: any, numbers: all, status: [answered]}
    then: {sender: ACME, to: [other_party], text: "Thanks for the call.", delay_s: 0}
"""
# SQLite gives its -wal/-shm files the database file's owner with fchown() only when it runs as root
# (unixOpen: robustFchown if geteuid() == 0), as the tests do; as User=pbx-sms it never calls it, and
# under the filter the call would fail with EPERM, which SQLite ignores.
ONLY_AS_ROOT = frozenset({"fchown"})


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is missing: apt-get install {name} (.ci/run does)"
    return path


def syscall_set(*names: str) -> set[str]:
    """System call names of ``names`` (sets like @system-service, or calls), nested sets expanded."""
    result = subprocess.run(
        [tool("systemd-analyze"), "syscall-filter", *names], capture_output=True, text=True, timeout=60, check=True
    )
    calls: set[str] = set()
    for line in (line.strip() for line in result.stdout.splitlines()):
        if line.startswith("@") and line not in names:
            calls |= syscall_set(line)
        elif line and not line.startswith(("#", "@")):
            calls.add(line)
    return calls


def unit_filter(unit: Path) -> tuple[set[str], set[str]]:
    """(system calls the unit allows, socket families it allows)."""
    service = parse_unit(unit.read_text())["Service"]
    allowed: set[str] = set()
    for value in (value for key, value in service if key == "SystemCallFilter"):
        if value.startswith("~"):
            allowed -= syscall_set(*value[1:].split())
        else:
            allowed |= syscall_set(*value.split())
    [families] = [value for key, value in service if key == "RestrictAddressFamilies"]
    return allowed, set(families.split())


def traced_calls(trace: Path) -> tuple[set[str], set[str]]:
    """(system call names, socket() families) in an ``strace -f -o`` file."""
    text = trace.read_text(errors="replace")
    calls = set(re.findall(r"^\d+\s+([a-z0-9_]+)\(", text, re.MULTILINE))
    families = set(re.findall(r"^\d+\s+socket\((AF_[A-Z0-9]+)", text, re.MULTILINE))
    assert "execve" in calls and "openat" in calls, f"{trace} holds no trace of pbx-sms"
    return calls, families


class TracedDaemon(DaemonProcess):
    """`pbx-sms run` under ``strace -f``; signals go to the daemon itself (strace blocks them)."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str, trace: Path) -> None:
        super().__init__(env, workdir, name)
        self.trace = trace

    async def start(self) -> TracedDaemon:
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                tool("strace"), "-f", "-qq", "-o", str(self.trace), PBX_SMS, "run",
                env=self.env, stdout=stdout, stderr=stderr, cwd=self.workdir,
            )  # fmt: skip
        return self

    def daemon_pid(self) -> int:
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        assert children, "strace has not started the daemon"
        return int(children[0])

    async def stop_daemon(self, timeout_s: float = 60.0) -> int:
        os.kill(self.daemon_pid(), signal.SIGTERM)
        return await self.wait(timeout_s)


async def test_the_daemon_makes_only_system_calls_its_unit_allows(database_url: str, tmp_path: Path) -> None:
    allowed_calls, _ = unit_filter(UNIT)
    assert {"read", "write", "epoll_wait", "connect"} <= allowed_calls and "reboot" not in allowed_calls
    env = daemon_env(database_url, 5038, "http://127.0.0.1:9/unused")  # the upgrade reads the database URL only
    upgrade_trace = tmp_path / "upgrade.strace"
    upgraded = subprocess.run(
        [tool("strace"), "-f", "-qq", "-o", str(upgrade_trace), PBX_SMS, "db", "upgrade"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert upgraded.returncode == 0, upgraded.stderr
    set_up_database(database_url, RULES, tmp_path)
    blocks = load_recording_events(FIXTURES / "busy_hour.callcdr.ami")
    run_trace = tmp_path / "run.strace"
    with LoopbackHttpServer() as gateway:
        async with FakeAmiServer(username=AMI_USER, secret=AMI_SECRET) as ami:
            env = daemon_env(database_url, ami.port, gateway.url)
            daemon = TracedDaemon(env, tmp_path, "daemon", run_trace)
            async with daemon:
                session = await ami.wait_sessions(1, STARTUP_TIMEOUT_S)
                moved, _ = move_to_now(blocks)
                await session.send_events(moved)
                await wait_until(lambda: len(gateway.requests) >= 10, 60, "SMS at the gateway")
                assert await daemon.stop_daemon() == 0, daemon.output[-3000:]
    prune_trace = tmp_path / "prune.strace"
    pruned = subprocess.run(
        [tool("strace"), "-f", "-qq", "-o", str(prune_trace), PBX_SMS, "db", "prune", "--older-than", "90d", "--yes"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert pruned.returncode == 0, pruned.stderr
    exempt = ONLY_AS_ROOT if os.geteuid() == 0 else frozenset()
    for unit, traces in ((UNIT, (upgrade_trace, run_trace)), (PRUNE_UNIT, (prune_trace,))):
        allowed_calls, allowed_families = unit_filter(unit)
        used: set[str] = set()
        families: set[str] = set()
        for trace in traces:
            calls, sockets = traced_calls(trace)
            used |= calls
            families |= sockets
        assert (unit.name, sorted(used - allowed_calls - exempt)) == (unit.name, [])
        assert families <= allowed_families, (unit.name, families)
    assert "epoll_wait" in traced_calls(run_trace)[0]  # the daemon's event loop was traced
