"""Migration 0006: calls and SMS are known by (pbx, Linkedid); existing rows get this PBX's name; reversible."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from integration.test_quiet_hours_storage import migrate
from integration.test_rule_migrations import SMS, SMS_OF_PBX, queued_sms_after_deleting_a_rule
from pbx_sms.db.engine import make_engine
from pbx_sms.storage.database import open_database

CALL = (
    "INSERT INTO calls (call_id, direction, number, other_party, status, talk_s, started_at, ended_at, source, "
    "received_at{pbx_column}) VALUES (:call, 'in', '+48221234567', '+48601000000', 'no_answer', 0, CURRENT_TIMESTAMP, "
    "CURRENT_TIMESTAMP, 'ami', CURRENT_TIMESTAMP{pbx_value})"
)


def execute(database_url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def old_rows(database_url: str) -> None:
    """A call and its SMS as written before 0006."""
    execute(database_url, CALL.format(pbx_column="", pbx_value=""), call="1700000000.1")
    execute(database_url, SMS, key="key-old", rule=1, call="1700000000.1")


def test_existing_rows_get_this_pbx_name_and_the_same_linkedid_fits_another_pbx(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_database(database_url).close()
    migrate(database_url, "0005", down=True)
    old_rows(database_url)
    monkeypatch.setenv("PBX_SMS_PBX_NAME", "pbx-warsaw")
    migrate(database_url, "0006")

    assert execute(database_url, "SELECT pbx, call_id, evidence FROM calls") == [("pbx-warsaw", "1700000000.1", "full")]
    assert execute(database_url, "SELECT pbx, call_id FROM outbox") == [("pbx-warsaw", "1700000000.1")]
    # Another PBX's call with the same Linkedid, and its SMS from the same rule to the same number, fit.
    execute(database_url, CALL.format(pbx_column=", pbx", pbx_value=", 'pbx-krakow'"), call="1700000000.1")
    execute(database_url, SMS_OF_PBX, key="key-krakow", rule=1, call="1700000000.1", pbx="pbx-krakow")
    assert len(execute(database_url, "SELECT pbx FROM calls WHERE call_id = '1700000000.1'")) == 2
    # The same PBX reporting the same call again does not.
    with pytest.raises(IntegrityError):
        execute(database_url, CALL.format(pbx_column=", pbx", pbx_value=", 'pbx-krakow'"), call="1700000000.1")
    with pytest.raises(IntegrityError):
        execute(database_url, SMS_OF_PBX, key="key-again", rule=1, call="1700000000.1", pbx="pbx-krakow")
    # The outbox rebuild kept the rules' trigger (0005) and the status check.
    assert queued_sms_after_deleting_a_rule(database_url, "after 0006") == [("cancelled", "rule_deleted")]
    with pytest.raises(IntegrityError):
        execute(database_url, "UPDATE outbox SET status = 'lost'")


def test_the_downgrade_keeps_the_rows_and_refuses_when_two_pbxs_share_a_linkedid(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PBX_SMS_PBX_NAME", raising=False)
    open_database(database_url).close()
    migrate(database_url, "0005", down=True)
    old_rows(database_url)
    migrate(database_url, "0006")
    migrate(database_url, "0005", down=True)
    assert execute(database_url, "SELECT call_id FROM calls") == [("1700000000.1",)]
    assert execute(database_url, "SELECT call_id FROM outbox") == [("1700000000.1",)]
    assert queued_sms_after_deleting_a_rule(database_url, "back at 0005") == [("cancelled", "rule_deleted")]

    migrate(database_url, "0006")
    execute(database_url, CALL.format(pbx_column=", pbx", pbx_value=", 'pbx-other'"), call="1700000000.1")
    with pytest.raises(RuntimeError, match="several PBXs share a Linkedid"):
        migrate(database_url, "0005", down=True)
