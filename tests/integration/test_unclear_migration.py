"""Migration 0010: the ``unclear`` status and ``outbox.unclear_since``; the outbox keeps its trigger and
its status check; the downgrade refuses while an SMS is unclear."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from integration.test_pbx_identity_migration import execute
from integration.test_quiet_hours_storage import columns, migrate
from integration.test_rule_migrations import SMS_OF_PBX, queued_sms_after_deleting_a_rule
from pbx_sms.storage.database import open_database

BEFORE = "0009"


def test_existing_rows_are_kept_and_unclear_becomes_a_known_status(database_url: str) -> None:
    open_database(database_url).close()
    migrate(database_url, BEFORE, down=True)
    assert "unclear_since" not in columns(database_url, "outbox")
    execute(database_url, SMS_OF_PBX, key="key-old", rule=1, call="1.1", pbx="pbx-1")
    with pytest.raises(IntegrityError):
        execute(database_url, "UPDATE outbox SET status = 'unclear'")
    migrate(database_url, "head")
    assert execute(database_url, "SELECT idempotency_key, status, unclear_since FROM outbox") == [
        ("key-old", "queued", None)
    ]
    execute(database_url, "UPDATE outbox SET status = 'unclear'")
    with pytest.raises(IntegrityError):
        execute(database_url, "UPDATE outbox SET status = 'lost'")
    # The rebuild kept the rules' trigger (0005).
    assert queued_sms_after_deleting_a_rule(database_url, "after 0010") == [("cancelled", "rule_deleted")]
    # The old schema cannot hold an unclear SMS: the downgrade says so and changes nothing.
    with pytest.raises(RuntimeError, match="1 SMS are unclear"):
        migrate(database_url, BEFORE, down=True)
    execute(database_url, "UPDATE outbox SET status = 'failed'")
    migrate(database_url, BEFORE, down=True)
    assert "unclear_since" not in columns(database_url, "outbox")
