"""Asterisk's side of an AGI request, for both ways the hangup hook runs (tests and bench/fastagi.py).

- ``run_hook``: the spawned script (agi-bin/pbx-sms-hangup.agi) as res_agi.c runs it: the environment
  on its stdin, every command answered with "200 result=1".
- ``fastagi_request``: a FastAGI session on loopback as res_agi.c's launch_netscript + run_agi speak
  it: ``agi_network: yes``, ``agi_network_script: PATH``, the same environment, an empty line, then
  "200 result=1" to every command until the server closes.
Both send the same ``environment_lines`` for the same arguments, in the order setup_env writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from paths import ROOT

from pbx_sms.agi.hook import DEADLINE_S
from pbx_sms.hangup import AGI_ARGUMENTS, FASTAGI_SCRIPT_NAME

SCRIPT = ROOT / "agi-bin" / "pbx-sms-hangup.agi"
VENV_PYTHON = Path(sys.executable)
START = 1_700_000_000
END = START + 125
ANSWER = b"200 result=1\n"


def agi_values(**overrides: str) -> list[str]:
    """The hook's arguments for an answered inbound call; ``overrides`` by argument name."""
    values = {
        "linkedid": "1700000000.42",
        "direction": "in",
        "start_epoch": str(START),
        "end_epoch": str(END),
        "dial_status": "ANSWER",
        "answered_time": "61",
        "queue_status": "",
        "member_interface": "",
        "answered_epoch": "",
        "hangup_cause": "16",
        "did": "+48221234567",
        "other_party": "602345678",
    }
    values.update(overrides)
    return [values[argument.name] for argument in AGI_ARGUMENTS]


def environment_lines(
    args: Sequence[str], request: str = "pbx-sms-hangup.agi", caller: str = "602345678", agi_version: str = "20.5.0"
) -> list[str]:
    """What res_agi.c's setup_env writes for a hangup handler's AGI() (without the empty line)."""
    return [
        f"agi_request: {request}",
        "agi_channel: PJSIP/trunk-00000042",
        "agi_language: en",
        "agi_type: PJSIP",
        "agi_uniqueid: 1700000000.42",
        f"agi_version: {agi_version}",
        f"agi_callerid: {caller}",
        "agi_calleridname: unknown",
        "agi_callingpres: 0",
        "agi_callingani2: 0",
        "agi_callington: 0",
        "agi_callingtns: 0",
        "agi_dnid: unknown",
        "agi_rdnis: unknown",
        "agi_context: pbxsms-hangup",
        "agi_extension: s",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 139872",
        *(f"agi_arg_{index}: {value}" for index, value in enumerate(args, start=1)),
    ]


# --- the spawned script -------------------------------------------------------------------------


@dataclass
class AgiRun:
    returncode: int
    commands: list[str]
    stderr: str
    wall_s: float


def run_hook(
    settings: dict[str, str],
    args: list[str],
    python: Path = VENV_PYTHON,
    cwd: Path | None = None,
    env_lines: Sequence[str] | None = None,
    agi_version: str = "20.5.0",
) -> AgiRun:
    """Run the script as Asterisk does and answer its AGI commands."""
    lines = environment_lines(args, agi_version=agi_version) if env_lines is None else env_lines
    child_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd or Path.cwd()), **settings}
    started = time.monotonic()
    process = subprocess.Popen(
        [str(python), str(SCRIPT), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env,
        cwd=cwd,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    process.stdin.write(("\n".join(lines) + "\n\n").encode())
    process.stdin.flush()
    commands = []
    for line in process.stdout:
        commands.append(line.decode().rstrip("\n"))
        process.stdin.write(ANSWER)
        process.stdin.flush()
    returncode = process.wait(timeout=DEADLINE_S + 10)
    wall_s = time.monotonic() - started
    stderr = process.stderr.read().decode()
    process.stdin.close()
    process.stdout.close()
    process.stderr.close()
    return AgiRun(returncode, commands, stderr, wall_s)


# --- FastAGI ----------------------------------------------------------------------------------------


@dataclass
class FastAgiExchange:
    commands: list[str]
    # From connecting until the server closed the connection.
    wall_s: float
    # From the end of the request (its empty line) until the first command arrived.
    answer_s: float | None


def fastagi_script(secret: str = "") -> str:
    return f"{FASTAGI_SCRIPT_NAME}/{secret}" if secret else FASTAGI_SCRIPT_NAME


async def fastagi_request(
    port: int,
    args: Sequence[str] | None = None,
    *,
    secret: str = "",
    script: str | None = None,
    raw: bytes | None = None,
    host: str = "127.0.0.1",
    source: str | None = None,
    timeout_s: float = 10.0,
) -> FastAgiExchange:
    """One FastAGI session as Asterisk runs it; ``raw`` replaces the whole request (hostile peers)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0) if source else None)
    if raw is None:
        path = fastagi_script(secret) if script is None else script
        lines = [
            "agi_network: yes",
            f"agi_network_script: {path}",
            *environment_lines(args or [], request=f"agi://{host}:{port}/{path}"),
        ]
        raw = ("\n".join(lines) + "\n\n").encode()
    commands: list[str] = []
    answer_s = None
    try:
        writer.write(raw)
        await writer.drain()
        sent = time.monotonic()
        async with asyncio.timeout(timeout_s):
            while line := await reader.readline():
                if answer_s is None:
                    answer_s = time.monotonic() - sent
                commands.append(line.decode().rstrip("\n"))
                writer.write(ANSWER)
                await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server closed first, as it may after refusing
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            await writer.wait_closed()
    return FastAgiExchange(commands, time.monotonic() - started, answer_s)
