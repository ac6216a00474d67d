"""Delivery reports (pbx_sms/db/delivery_table.py): the delivery state of each message sent.

A new table only; history, not configuration, so no ``config_version`` trigger. The outbox gains an
index on (gateway, message_id) to match reports to the SMS they are about.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pbx_sms.db.types import UtcDateTime

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.create_table(
        "delivery_reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("gateway", sa.String(50), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("code", sa.String(200), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.UniqueConstraint("gateway", "message_id", name="uq_delivery_reports_gateway_message_id"),
    )
    op.create_index("ix_delivery_reports_received_at", "delivery_reports", ["received_at"])
    op.create_index("ix_outbox_gateway_message_id", "outbox", ["gateway", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_gateway_message_id", table_name="outbox")
    op.drop_table("delivery_reports")
