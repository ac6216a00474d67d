"""Call log (one row per completed call, first report wins) and daemon heartbeats.

See pbx_sms/db/calls_table.py and pbx_sms/db/status_table.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pbx_sms.db.types import UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(100), primary_key=True),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("number", sa.String(16), nullable=True),
        sa.Column("other_party", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("talk_s", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("account", sa.String(100), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_calls_processed_at", "calls", ["processed_at"])
    op.create_index("ix_calls_ended_at", "calls", ["ended_at"])
    op.create_table(
        "daemon_status",
        sa.Column("instance", sa.String(150), primary_key=True),
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("stopped_at", UtcDateTime(), nullable=True),
        sa.Column("ami_state", sa.String(30), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("daemon_status")
    op.drop_table("calls")
