"""``outbox.local_to_pbx``: an SMS queued for its PBX's own gateway (the ami gateway's dongle).

Such a row is claimed only by that PBX's worker; rows of other gateways by any worker. Existing rows
get false: before this, a worker with a non-local gateway could claim every PBX's rows, and a local
one only its own, which stays so. Plain ADD/DROP COLUMN, so the outbox keeps its triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("local_to_pbx", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.execute("ALTER TABLE outbox DROP COLUMN local_to_pbx")
