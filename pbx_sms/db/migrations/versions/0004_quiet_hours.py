"""Quiet hours per account, and a note on outbox rows saying why an SMS goes out later than planned.

``accounts.quiet_hours``: "HH:MM-HH:MM" on the account's wall clock, NULL = none (existing accounts keep
sending around the clock). ``outbox.note``: e.g. the quiet hours that held an SMS, with the time it was
wanted at. Plain ADD/DROP COLUMN (no table rebuild), so the accounts table keeps its triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("accounts", sa.Column("quiet_hours", sa.String(20), nullable=True))
    op.add_column("outbox", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; Alembic's batch mode would rebuild the table and lose its triggers.
    op.execute("ALTER TABLE outbox DROP COLUMN note")
    op.execute("ALTER TABLE accounts DROP COLUMN quiet_hours")
