"""Running `pbx-sms run` as a real subprocess, setting up its database, and reading what it did."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from ami_server import FakeAmiServer
from ports import free_port
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from pbx_sms.cli.main import app
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.outbox_table import outbox_table
from pbx_sms.db.status_table import status_table

PBX_SMS = str(Path(sys.executable).with_name("pbx-sms"))
AMI_USER = "pbx-sms-e2e"
# Distinctive values, so a leak anywhere in the output is found by a plain substring search.
AMI_SECRET = "ami-Secret-e2e-7f3a9c"
HTTP_TOKEN = "http-Token-e2e-91bc04"
SECRETS = (AMI_SECRET, HTTP_TOKEN)


def clean_environ() -> dict[str, str]:
    """The test process's environment without any PBX_SMS_* setting of the developer's."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PBX_SMS_")}


def daemon_env(database_url: str, ami_port: int, http_url: str, **settings: str) -> dict[str, str]:
    """Environment for `pbx-sms run`: loopback AMI and HTTP gateway, short timers; ``settings`` as
    lower-case names without the prefix (``cdr_grace_s="0.1"``) override the defaults here."""
    values = {
        "database_url": database_url,
        "ami_host": "127.0.0.1",
        "ami_port": str(ami_port),
        "ami_username": AMI_USER,
        "ami_secret": AMI_SECRET,
        "ami_reconnect_min_s": "0.2",
        "ami_reconnect_max_s": "2",
        "gateway": "http",
        "http_url": http_url,
        "http_token": HTTP_TOKEN,
        "http_timeout_s": "5",
        "cdr_grace_s": "0.2",
        "outbox_poll_s": "0.2",
        "outbox_retry_base_s": "0.2",
        "log_level": "INFO",
        # Its own port, so daemons running side by side (two PBXs, a restart) never share one.
        "metrics_port": str(free_port()),
        # A free port: daemons of parallel tests must not compete for 4573.
        "fastagi_port": "0",
    } | settings
    return clean_environ() | {f"PBX_SMS_{key.upper()}": value for key, value in values.items()}


def admin(database_url: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run a command (`pbx-sms senders add ...`) in this process, as the CLI would; its output.

    ``env``: extra environment (e.g. the daemon's, secrets included) on top of the database URL.
    """
    environment = (env or {}) | {"PBX_SMS_DATABASE_URL": database_url}
    result = CliRunner().invoke(app, list(args), env=environment, catch_exceptions=False)
    assert result.exit_code == 0, f"pbx-sms {' '.join(args)} failed ({result.exit_code}): {result.output}"
    return result.output


def set_up_database(database_url: str, rules_yaml: str, workdir: Path, numbers: Sequence[str] = ()) -> None:
    """Sender ACME, the company numbers, the rules: through the admin CLI, before the daemon starts."""
    admin(database_url, "senders", "add", "ACME")
    # The bursts here (hundreds of calls) are beyond a new account's daily cap; these tests are not about it.
    admin(database_url, "accounts", "set", "default", "--no-daily-cap")
    for number in numbers:
        admin(database_url, "numbers", "add", number)
    rules_file = workdir / "rules.yaml"
    rules_file.write_text(rules_yaml, encoding="utf-8")
    admin(database_url, "rules", "import", str(rules_file))


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = predicate()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(interval_s)


class DaemonProcess:
    """One `pbx-sms run` subprocess; its stdout and stderr go to files in ``workdir``."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str, args: Sequence[str] = ()) -> None:
        self.env = env
        self.workdir = workdir
        self.name = name
        self.args = list(args)
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> DaemonProcess:
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                PBX_SMS, "run", *self.args, env=self.env, stdout=stdout, stderr=stderr, cwd=self.workdir
            )
        return self

    async def __aenter__(self) -> DaemonProcess:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        # A failed test must not leave a daemon behind.
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.kill_now()
            await self.wait(10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    async def wait_output(self, text: str, timeout_s: float) -> None:
        def seen() -> bool:
            if not self.running and text not in self.output:
                raise AssertionError(f"{self.name} exited ({self.returncode}) before logging {text!r}:\n{self.output}")
            return text in self.output

        await wait_until(seen, timeout_s, f"{self.name} to log {text!r}")

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.returncode

    async def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"{self.name} still running {timeout_s:g} s later:\n{self.output[-3000:]}") from None

    async def terminate(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 20.0) -> int:
        """SIGTERM (or ``sig``), then the exit code (a graceful stop is expected within ``timeout_s``)."""
        assert self.process is not None
        self.process.send_signal(sig)
        return await self.wait(timeout_s)

    def kill_now(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)


class FakeAmiServerOn(FakeAmiServer):
    """The fake Asterisk on a chosen port (one the daemon was already told to use)."""

    def __init__(self, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port = port

    async def start(self) -> FakeAmiServerOn:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        return self


class DatabaseView:
    """Read-only look at the daemon's database: calls, outbox rows, heartbeats."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_engine(database_url)

    def close(self) -> None:
        self.engine.dispose()

    def outbox(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(select(outbox_table).order_by(outbox_table.c.id)).mappings()]

    def calls(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {row["call_id"]: dict(row) for row in conn.execute(select(calls_table)).mappings()}

    def heartbeats(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(select(status_table)).mappings()]

    def final_report(self, daemon: DaemonProcess) -> dict[str, Any]:
        """The details of the heartbeat a daemon wrote as it stopped: its counters, as data, not log wording."""
        assert daemon.process is not None and daemon.returncode is not None, "the daemon has not stopped"
        (row,) = [row for row in self.heartbeats() if row["pid"] == daemon.process.pid]
        assert row["stopped_at"] is not None, f"{daemon.name} wrote no final heartbeat: {row}"
        details: dict[str, Any] = json.loads(row["details"])
        return details

    def processed_at_s(self) -> dict[str, float]:
        """When the daemon matched each call against the rules (epoch seconds)."""
        calls = self.calls().items()
        return {call_id: row["processed_at"].timestamp() for call_id, row in calls if row["processed_at"] is not None}

    def settled(self, call_ids: set[str] | frozenset[str]) -> bool:
        """Every one of these calls is recorded and matched, and no SMS is waiting or being sent (an unclear
        SMS held for an operator, with a reason, is settled: nothing will happen to it on its own)."""
        calls = self.calls()
        if not all(call_id in calls and calls[call_id]["processed_at"] is not None for call_id in call_ids):
            return False
        return not any(
            row["status"] in ("queued", "sending") or (row["status"] == "unclear" and row["reason"] is None)
            for row in self.outbox()
        )
