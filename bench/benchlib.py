"""Shared pieces of the benchmark scripts: machine description, result tables, percentiles,
a busy-hour AMI stream scaled to any number of events, and a loopback AMI server process.

Not a test module: nothing in bench/ is collected by pytest (testpaths = ["tests"]).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
MESSAGE_END = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"

# Values that identify a channel or a call, or date an event: "<epoch seconds>.<fraction>" (a
# Uniqueid is Asterisk's epoch at channel creation + a sequence number).  Bridges have UUIDs.
_RENUMBERED = re.compile(
    rb"^((?:Timestamp|Uniqueid|Linkedid|DestUniqueid|DestLinkedid|LocalOneUniqueid|LocalOneLinkedid"
    rb"|LocalTwoUniqueid|LocalTwoLinkedid|UniqueID): \d+(?=\.)|BridgeUniqueid: [0-9a-f]{8})",
    re.MULTILINE,
)
_TIMESTAMP = re.compile(rb"^Timestamp: (\d+)\.", re.MULTILINE)


# --- machine and output ------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(cell.ljust(width) for cell, width in zip(cells[0], widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in cells[1:]:
        # Text (first and last column) to the left, numbers to the right.
        aligned = [
            cell.ljust(width) if i in (0, len(row) - 1) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(aligned).rstrip())


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# --- the scaled busy-hour stream ---------------------------------------------------------------


def recording_events(path: Path) -> bytes:
    """A recording's event messages (banner and login response removed), each ending in a blank line."""
    data = path.read_bytes()
    if data.startswith(b"Asterisk Call Manager/"):
        data = data[data.index(b"\r\n") + 2 :]
    blocks = [block for block in data.split(MESSAGE_END) if block.strip()]
    return b"".join(block + MESSAGE_END for block in blocks if block.startswith(b"Event: "))


@dataclass(frozen=True)
class ScaledStream:
    path: Path
    events: int
    copies: int
    events_per_copy: int
    calls_per_copy: int

    @property
    def calls(self) -> int:
        return self.copies * self.calls_per_copy


def _renumbered(token: bytes, copy: int, shift_s: int) -> bytes:
    key, value = token.split(b": ")
    if key == b"BridgeUniqueid":
        # The copy number replaces the first 4 hex digits; the next 4 keep bridges of one copy apart.
        return b"%s: %04x%s" % (key, copy & 0xFFFF, value[4:])
    return b"%s: %d" % (key, int(value) + copy * shift_s)


def build_scaled_stream(recording: Path, min_events: int, out: Path, calls_per_copy: int) -> ScaledStream:
    """Write copies of ``recording`` to ``out`` until at least ``min_events`` events: copy k has its
    timestamps and channel/call ids moved k·(recording length + 1 s) later (distinct calls that
    follow each other, as in a day of busy hours) and its bridge ids made distinct."""
    template = recording_events(recording)
    events_per_copy = template.count(MESSAGE_END)
    stamps = [int(value) for value in _TIMESTAMP.findall(template)]
    shift_s = max(stamps) - min(stamps) + 2
    pieces = _RENUMBERED.split(template)  # literal, token, literal, token, ..., literal
    literals, tokens = pieces[0::2], pieces[1::2]
    bridges = {token[-4:] for token in tokens if token.startswith(b"BridgeUniqueid")}
    if len(bridges) != len({token for token in tokens if token.startswith(b"BridgeUniqueid")}):
        raise ValueError(f"{recording}: two bridges share hex digits 5-8 of their ids; renumbering would merge them")
    distinct = sorted(set(tokens))
    copies = math.ceil(min_events / events_per_copy)
    with out.open("wb") as file:
        for copy in range(copies):
            mapping = {token: _renumbered(token, copy, shift_s) for token in distinct}
            new_tokens = [mapping[token] for token in tokens]
            body = [None] * (len(literals) + len(new_tokens))
            body[0::2] = literals
            body[1::2] = new_tokens
            file.write(b"".join(body))  # type: ignore[arg-type]
    return ScaledStream(out, copies * events_per_copy, copies, events_per_copy, calls_per_copy)


def busy_hour_calls(variant: str) -> int:
    """How many calls busy_hour has, from the fixtures' expected results."""
    expected = (FIXTURES / "expected.jsonl").read_text().splitlines()
    del variant  # both variants describe the same calls
    return sum(1 for line in expected if '"recording": "busy_hour"' in line)


# --- a loopback AMI server in its own process ---------------------------------------------------


def _action_id(block: bytes) -> bytes:
    for line in block.split(b"\r\n"):
        if line.lower().startswith(b"actionid:"):
            return line.split(b":", 1)[1].strip()
    return b""


def _reply(conn: socket.socket, response: bytes, action_id: bytes, line: bytes) -> None:
    conn.sendall(b"Response: %s\r\nActionID: %s\r\n%s\r\n\r\n" % (response, action_id, line))


def serve_ami(path: Path) -> None:
    """Accept connections one at a time: banner, a successful Login response, then the whole file at
    full speed (sendfile); then answer actions (Ping, Logoff) until the client hangs up."""
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        with conn, path.open("rb") as file:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.sendall(BANNER)
            pending = b""
            sent_stream = False
            while True:
                while MESSAGE_END not in pending:
                    data = conn.recv(65536)
                    if not data:
                        break
                    pending += data
                if MESSAGE_END not in pending:
                    break
                block, pending = pending.split(MESSAGE_END, 1)
                action_id = _action_id(block)
                action = block.split(b"\r\n", 1)[0].lower()
                if b"login" in action:
                    _reply(conn, b"Success", action_id, b"Message: Authentication accepted")
                    if not sent_stream:
                        conn.sendfile(file)
                        sent_stream = True
                elif b"logoff" in action:
                    _reply(conn, b"Goodbye", action_id, b"Message: Thanks for all the fish.")
                    break
                else:
                    _reply(conn, b"Success", action_id, b"Ping: Pong")


@contextmanager
def ami_server(path: Path) -> Iterator[int]:
    """Run serve_ami(path) in a child process; yields its port."""
    process = subprocess.Popen([sys.executable, __file__, "serve-ami", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)


# --- a loopback HTTP gateway in its own process -------------------------------------------------


async def _serve_http_async() -> None:
    import asyncio
    import json
    import threading
    import time

    received: list[tuple[str, float]] = []
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.time()
                length = 0
                key = ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"idempotency-key":
                        key = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                received.append((key, arrived))
                count += 1
                body = b'{"id": "%d"}' % count
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    # The parent closes our stdin when it is done: answer with what arrived, then exit.
    threading.Thread(
        target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(finished.set_result, None)), daemon=True
    ).start()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/sms", flush=True)
    await finished
    server.close()
    print(json.dumps(received), flush=True)


@contextmanager
def http_gateway_server() -> Iterator[tuple[str, Callable[[], list[tuple[str, float]]]]]:
    """Run a loopback HTTP gateway in a child process; yields its URL and a function that stops it
    and returns (Idempotency-Key, arrival epoch seconds) per request."""
    import json

    process = subprocess.Popen(
        [sys.executable, __file__, "serve-http"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None

    def finish() -> list[tuple[str, float]]:
        output, _ = process.communicate("", timeout=60)
        return [(key, at) for key, at in json.loads(output)]

    try:
        yield process.stdout.readline().strip(), finish
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="helpers of the benchmark scripts (run by them)")
    parser.add_argument("command", choices=["serve-ami", "serve-http"])
    parser.add_argument("path", type=Path, nargs="?")
    arguments = parser.parse_args()
    if arguments.command == "serve-ami":
        serve_ami(arguments.path)
    else:
        import asyncio

        asyncio.run(_serve_http_async())


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A URL of a fresh schema on the PostgreSQL at ``base``, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
