#!/usr/bin/env python
"""Authentication benchmark: what a request of the coming `pbx-sms web` pays to know who sent it.

Rows per database (SQLite in a temp dir, PostgreSQL at PBX_SMS_TEST_POSTGRES_URL):
  - bearer token: authenticate_token (SHA-256 digest lookup + last_used_at update), one transaction each;
  - browser session: check_session (digest lookup, expiry, last_seen_at update), one transaction each;
  - throttled login: a refused login (5 failures already in the window): two indexed counts, no argon2.
And once: argon2id hash and verify with the production parameters (argon2-cffi defaults), the cost
a token lookup avoids. Per operation: mean and p99 wall time, operations/s.

    .venv/bin/python bench/auth.py
    .venv/bin/python bench/auth.py --requests 500 --postgres ''     # SQLite only
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from argon2 import PasswordHasher
from benchlib import machine, percentile, print_table
from record import databases

from pbx_sms.core.clock import utc_now
from pbx_sms.core.web_session import SessionLimits
from pbx_sms.db.engine import Database
from pbx_sms.storage.api_tokens import authenticate_token, create_token
from pbx_sms.storage.credentials import DEFAULT_HASHER
from pbx_sms.storage.database import open_database
from pbx_sms.storage.logins import login
from pbx_sms.storage.users import add_user, get_user
from pbx_sms.storage.web_sessions import check_session, start_session

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
LIMITS = SessionLimits(idle_s=1800, max_s=43200)


def timed(count: int, operation: Callable[[], object]) -> list[str]:
    times_ms = []
    for _ in range(count):
        started = time.perf_counter()
        operation()
        times_ms.append((time.perf_counter() - started) * 1000)
    times_ms.sort()
    mean_ms = sum(times_ms) / len(times_ms)
    return [f"{mean_ms:.2f}", f"{percentile(times_ms, 0.99):.2f}", f"{1000 / mean_ms:,.0f}"]


def by_token(database: Database, token: str) -> None:
    with database.write_session() as session:
        assert authenticate_token(session, token, utc_now()) is not None


def by_session(database: Database, secret: str) -> None:
    with database.write_session() as session:
        assert check_session(session, secret, utc_now(), LIMITS) is not None


def throttled(database: Database) -> None:
    assert login(database, "bench", "bench-password", "192.0.2.1", utc_now(), hasher=FAST).retry_after_s is not None


def main() -> None:
    logging.getLogger("pbx_sms").setLevel(logging.ERROR)  # the refused logins' warnings
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="operations per row")
    parser.add_argument("--hashes", type=int, default=5, help="argon2 hashes and verifies with the defaults")
    parser.add_argument("--postgres", default=POSTGRES_URL, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args()
    rows: list[list[object]] = []
    with databases(args.postgres) as urls:
        for name, url in urls:
            database = open_database(url)
            try:
                with database.write_session() as session:
                    add_user(session, "bench", role="operator", password="bench-password", hasher=FAST)
                    _, token = create_token(session, "bench", utc_now())
                    secret = start_session(session, get_user(session, "bench").id, utc_now())
                for _ in range(5):
                    login(database, "bench", "wrong password", "192.0.2.1", utc_now(), hasher=FAST)

                rows.append([name, "bearer token", *timed(args.requests, partial(by_token, database, token))])
                rows.append([name, "browser session", *timed(args.requests, partial(by_session, database, secret))])
                rows.append([name, "throttled login", *timed(args.requests, partial(throttled, database))])
            finally:
                database.close()
    stored = DEFAULT_HASHER.hash("bench-password")
    rows.append(["-", "argon2id hash (defaults)", *timed(args.hashes, lambda: DEFAULT_HASHER.hash("bench-password"))])
    rows.append(
        [
            "-",
            "argon2id verify (defaults)",
            *timed(args.hashes, lambda: DEFAULT_HASHER.verify(stored, "bench-password")),
        ]
    )
    print(machine())
    print_table("authentication per request", ["database", "operation", "mean ms", "p99 ms", "ops/s"], rows)


if __name__ == "__main__":
    main()
