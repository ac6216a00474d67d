"""A failed statement's error, which reaches logs, never carries the values it was given."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

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
