"""A failed statement's error, which reaches logs, never carries the values it was given."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pbx_sms.db.engine import make_engine

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
