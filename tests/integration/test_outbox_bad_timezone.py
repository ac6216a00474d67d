"""An account hand-edited into an unknown time zone must not stop the worker for everyone."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from pbx_sms.outbox.model import NewSms
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.database import open_database


def test_claim_survives_an_unknown_account_time_zone(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    bad_zone = f"Europe/Warsw-{uuid.uuid4().hex[:6]}"  # unique: each bad zone is logged once per process
    database = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    try:
        outbox = SqlOutbox(database.engine)
        with database.engine.begin() as conn:
            account_id = conn.execute(text("SELECT id FROM accounts")).scalar_one()
        now = datetime.now(UTC)
        outbox.enqueue(
            [NewSms(account_id, 1, "r", "c1", "+48600100200", now, "+48600100200", "ACME", "hi", "GSM-7", 1, now)], now
        )
        with database.engine.begin() as conn:  # a typo typed straight into SQL, with a cap and quiet hours set
            conn.execute(
                text("UPDATE accounts SET timezone = :zone, daily_cap = 10, quiet_hours = NULL"), {"zone": bad_zone}
            )
        with caplog.at_level(logging.ERROR):
            rows = outbox.claim_due("w1", now + timedelta(seconds=1), 10, 30)
        assert [row.to for row in rows] == ["+48600100200"]
        assert bad_zone in caplog.text
    finally:
        database.close()
