"""Which database errors mean "the database is away, retry as long as it takes" (pbx_sms.db.errors)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from pbx_sms.db.errors import is_database_outage


def test_an_operational_error_is_an_outage() -> None:
    assert is_database_outage(OperationalError("SELECT 1", {}, Exception("connection refused")))


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        ProgrammingError("SELECT", {}, Exception("relation does not exist")),
        ValueError("bad value"),
    ],
)
def test_errors_that_come_back_on_every_try_are_not_an_outage(error: Exception) -> None:
    assert not is_database_outage(error)
