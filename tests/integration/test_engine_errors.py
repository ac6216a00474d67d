"""A failed statement's error, which reaches logs, never carries the values it was given."""

from __future__ import annotations

import io
import logging
import socket
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from pbx_sms.db import engine as engine_module
from pbx_sms.db.engine import make_engine
from pbx_sms.logs import log_handler

SECRET = "argon2id$secret-hash-value"


def test_a_failed_statement_names_itself_but_not_its_values(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, secret VARCHAR(100) NOT NULL)"))
            connection.execute(text("INSERT INTO probe (id, secret) VALUES (1, :secret)"), {"secret": SECRET})
        with pytest.raises(DBAPIError) as failed, engine.begin() as connection:
            connection.execute(text("INSERT INTO probe (id, secret) VALUES (1, :secret)"), {"secret": SECRET})
        message = str(failed.value)
        assert "INSERT INTO probe" in message
        assert SECRET not in message
    finally:
        engine.dispose()


def test_a_logged_constraint_error_quotes_no_row(database_url: str) -> None:
    """PostgreSQL's DETAIL ("Failing row contains (...)") would quote the row: the log line hides it."""
    engine = make_engine(database_url)
    stream = io.StringIO()
    logger = logging.getLogger("pbx_sms.test_engine_errors")
    logger.addHandler(log_handler(stream))
    try:
        with engine.begin() as connection:
            connection.execute(
                text("CREATE TABLE probe (id INTEGER PRIMARY KEY, secret VARCHAR(100), n INTEGER NOT NULL)")
            )
        with pytest.raises(DBAPIError) as failed, engine.begin() as connection:
            connection.execute(text("INSERT INTO probe (id, secret, n) VALUES (1, :secret, NULL)"), {"secret": SECRET})
        if engine.dialect.name == "postgresql":
            assert SECRET in str(failed.value)  # the driver's own message quotes the row
        logger.error("insert failed", exc_info=failed.value)
        logged = stream.getvalue()
        assert "constraint" in logged  # the error itself is still there
        if engine.dialect.name == "postgresql":
            assert "DETAIL:  (hidden" in logged
        assert SECRET not in logged
    finally:
        logger.handlers.clear()
        engine.dispose()


def test_a_postgresql_server_that_never_answers_fails_the_connection_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A listening socket that never speaks: without a connect timeout libpq would wait forever."""
    monkeypatch.setattr(engine_module, "POSTGRES_CONNECT_TIMEOUT_S", 1)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/none")
        started_s = time.monotonic()
        try:
            with pytest.raises(OperationalError), engine.connect():
                pass
        finally:
            engine.dispose()
        assert time.monotonic() - started_s < 8
