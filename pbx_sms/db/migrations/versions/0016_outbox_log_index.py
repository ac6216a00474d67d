"""An index on the outbox's (account_id, created_at, id): an account's SMS log, newest first.

The panel's and the API's SMS log pages ask for an account's newest 51 SMS (``ORDER BY created_at
DESC, id DESC``); without it the database reads all the account's SMS and sorts them (100k sent
SMS, measured on SQLite with bench/sms_log.py: 0.56 s a page without, see the README's Performance
section for with).
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.create_index("ix_outbox_account_id_created_at_id", "outbox", ["account_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_account_id_created_at_id", table_name="outbox")
