"""Files pbx-sms creates are never readable or writable by other users, whatever the umask.

Run under umask 000, the worst an operator's shell or a unit without UMask= can give: SQLite alone
would create the database, its -wal/-shm and a rollback -journal 0644 there (and 0666 for a plain
``open``); the log gateway's file holds every number and text.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pbx_sms.db.engine import make_engine
from pbx_sms.db.migrate import upgrade_schema
from pbx_sms.gateways.base import OutgoingSms
from pbx_sms.gateways.log import LogGateway

SMS = OutgoingSms("6d3c4a0e-3c1b-4f5e-9f55-1f2b3c4d5e6f", "+48601234567", "ACME", "We missed you", 1, "GSM-7")


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def others(path: Path) -> int:
    return mode(path) & stat.S_IRWXO


@pytest.mark.usefixtures("open_umask")
def test_a_new_sqlite_database_and_its_side_files_are_closed_to_others(tmp_path: Path) -> None:
    database = tmp_path / "pbx-sms.db"
    engine = make_engine(f"sqlite:///{database}")
    try:
        upgrade_schema(engine)  # what `pbx-sms db upgrade` does first of all
        with engine.connect() as connection:  # held open: -wal and -shm exist while it lives
            connection.execute(text("SELECT count(*) FROM calls")).scalar_one()
            side_files = {path.name: oct(mode(path)) for path in tmp_path.iterdir()}
            assert side_files == {name: "0o660" for name in ("pbx-sms.db", "pbx-sms.db-wal", "pbx-sms.db-shm")}
    finally:
        engine.dispose()
    # A rollback journal (another tool on the same file, in DELETE mode) takes the database's mode.
    plain = sqlite3.connect(database, isolation_level=None)
    try:
        plain.execute("PRAGMA journal_mode=DELETE")
        plain.execute("BEGIN IMMEDIATE")
        plain.execute("DELETE FROM calls")
        assert oct(mode(tmp_path / "pbx-sms.db-journal")) == "0o660"
        plain.execute("ROLLBACK")
    finally:
        plain.close()


def test_a_stricter_umask_narrows_the_mode_further(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'private.db'}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        engine.dispose()
    finally:
        os.umask(previous)
    assert oct(mode(tmp_path / "private.db")) == "0o600"


@pytest.mark.usefixtures("open_umask")
def test_an_existing_database_open_to_others_is_closed_when_pbx_sms_opens_it(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    sqlite3.connect(database).close()
    database.chmod(0o666)
    wal = tmp_path / "old.db-wal"
    wal.write_bytes(b"")
    wal.chmod(0o644)
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    assert (oct(mode(database)), others(wal)) == ("0o660", 0)


@pytest.mark.usefixtures("open_umask")
async def test_the_log_gateway_file_is_closed_to_others(tmp_path: Path) -> None:
    created = tmp_path / "sms.jsonl"
    gateway = LogGateway(created)
    assert (await gateway.send(SMS)).outcome == "sent"
    await gateway.close()
    assert oct(mode(created)) == "0o660"
    existing = tmp_path / "old.jsonl"
    existing.write_text("")
    existing.chmod(0o666)
    gateway = LogGateway(existing)
    assert (await gateway.send(SMS)).outcome == "sent"
    await gateway.close()
    assert oct(mode(existing)) == "0o660"
    assert "+48601234567" in existing.read_text()
