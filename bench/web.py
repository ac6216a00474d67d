#!/usr/bin/env python
"""`pbx-sms web` as a process: what one API request costs end to end (uvicorn, the middleware, the guard).

Per database (SQLite in a temp dir, PostgreSQL at PBX_SMS_TEST_POSTGRES_URL): the server started as
`pbx-sms web` on a free loopback port, then sequential requests over one keep-alive connection:
  - GET /api/v1/me with a bearer token (token digest lookup, the guard, the request's log line);
  - GET /api/v1/me without credentials (401: the guard's answer without a database hit);
  - GET /api/docs (the docs page: no database, the page and its CSP precomputed).
Per row: mean and p99 wall time, requests/s, and the server process's CPU time per request (which,
unlike wall time, stays comparable when other work shares the machine).

    .venv/bin/python bench/web.py
    .venv/bin/python bench/web.py --requests 500 --postgres ''     # SQLite only
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchlib import machine, percentile, print_table
from ports import free_port
from record import databases

from pbx_sms.storage.api_tokens import create_token
from pbx_sms.storage.database import open_database
from pbx_sms.storage.users import add_user

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PBX_SMS = str(Path(sys.executable).with_name("pbx-sms"))


def _token(url: str) -> str:
    database = open_database(url)
    with database.write_session() as session:
        add_user(session, "bench", role="operator", account=None, password="bench password 1")
        _view, token = create_token(session, "bench", datetime.now(UTC))
    database.close()
    return token


def _start(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PBX_SMS_")}
    env |= {"PBX_SMS_DATABASE_URL": url, "PBX_SMS_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([PBX_SMS, "web", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/docs")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("pbx-sms web did not start")


def _measure(port: int, path: str, headers: dict[str, str], requests: int, status: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        answer.read()
        times.append(time.perf_counter() - started)
        assert answer.status == status, (path, answer.status)
    connection.close()
    return times


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per row")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args()
    print(machine())
    rows = []
    with databases(args.postgres) as urls:
        for name, url in urls:
            token = _token(url)
            port = free_port()
            process = _start(url, port)
            try:
                cases = (
                    ("GET /api/v1/me, bearer", "/api/v1/me", {"Authorization": f"Bearer {token}"}, 200),
                    ("GET /api/v1/me, none: 401", "/api/v1/me", {}, 401),
                    ("GET /api/docs", "/api/docs", {}, 200),
                )
                for label, path, headers, status in cases:
                    _measure(port, path, headers, 50, status)  # warm-up
                    cpu_before_s = _cpu_s(process.pid)
                    times = _measure(port, path, headers, args.requests, status)
                    cpu_ms = (_cpu_s(process.pid) - cpu_before_s) / args.requests * 1000
                    mean_ms = sum(times) / len(times) * 1000
                    p99_ms = percentile(sorted(times), 0.99) * 1000
                    rows.append(
                        [name, label, f"{mean_ms:.2f}", f"{p99_ms:.2f}", f"{1000 / mean_ms:.0f}", f"{cpu_ms:.2f}"]
                    )
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    print_table(
        f"pbx-sms web, {args.requests} sequential requests per row over one keep-alive connection",
        ["database", "request", "mean ms", "p99 ms", "requests/s", "server CPU ms"],
        rows,
    )


if __name__ == "__main__":
    main()
