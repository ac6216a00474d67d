"""Engine and sessions: one code path for SQLite and PostgreSQL.

SQLite gets WAL (readers never block the writer), a busy timeout (writers queue instead of failing)
and foreign keys. pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN is
real, DDL included (Alembic migrations are then atomic), and so that a writer can ask for
``BEGIN IMMEDIATE``: a read-then-write transaction that only upgrades its lock at the first write can
fail with "database is locked" however long the busy timeout is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.orm import Session, sessionmaker

from pbx_sms.db.url import is_sqlite, normalise_database_url
from pbx_sms.files import create_private_file, restrict_file

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option read by the SQLite "begin" hook: "" (deferred) or "IMMEDIATE".
SQLITE_BEGIN_OPTION = "pbx_sms_sqlite_begin"
# Files SQLite keeps next to a database; it gives them the database file's mode.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _install_sqlite_hooks(engine: Engine, in_memory: bool) -> None:
    if not in_memory and engine.url.database and not engine.url.database.startswith("file:"):
        database = Path(engine.url.database)

        @event.listens_for(engine, "do_connect")
        def _private_files(*_args: Any) -> None:
            # Before SQLite opens (and would create) the file: see pbx_sms.files.
            create_private_file(database)
            for suffix in SQLITE_SIDE_FILES:
                restrict_file(database.with_name(database.name + suffix))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First: switching a new file to WAL takes a lock that other processes opening it wait for.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


POSTGRES_CONNECT_TIMEOUT_S = 10  # whole seconds: libpq's unit


def limit_statement_time(connection: Connection, timeout_s: float) -> None:
    """Within the connection's transaction, PostgreSQL stops a statement itself after ``timeout_s``
    (SQLite reads never wait for a writer in WAL mode)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}")


def make_engine(url: str | URL) -> Engine:
    """An engine for a user-given URL (see ``normalise_database_url``), with the SQLite hooks installed."""
    parsed = normalise_database_url(url) if isinstance(url, str) else url
    # A failed statement's error names the statement but not its values: they can be a password hash,
    # a token digest or a caller's number, and errors reach logs.
    if is_sqlite(parsed):
        in_memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(parsed, hide_parameters=True)
        _install_sqlite_hooks(engine, in_memory)
        return engine
    # A server that accepts the connection and never answers (a hung host, a firewall dropping the
    # reply) would hold a worker or a web request forever: libpq has no timeout unless given one.
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    return create_engine(parsed, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args)


@dataclass
class Database:
    """An open configuration database: the engine and its session factories."""

    engine: Engine

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        write_engine = self.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        self._write_sessions = sessionmaker(write_engine, expire_on_commit=False)

    @property
    def url(self) -> URL:
        return self.engine.url

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads (and writes that do not read first); commits on success."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """A session that reads and then writes: on SQLite it takes the write lock up front."""
        with self._write_sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()
