"""Replies (pbx_sms/db/replies_table.py): SMS received from the numbers we texted.

A new table only; history, not configuration, so no ``config_version`` trigger. The outbox gains an
index on (recipient, sender, last_attempt_at) to find the SMS a reply answers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pbx_sms.db.types import UtcDateTime

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("from_number", sa.String(64), nullable=False),
        sa.Column("to_number", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("sms_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("provider", "message_id", name="uq_replies_provider_message_id"),
    )
    op.create_index("ix_replies_sms_id", "replies", ["sms_id"])
    op.create_index("ix_replies_received_at", "replies", ["received_at"])
    op.create_index("ix_outbox_recipient_sender_last_attempt_at", "outbox", ["recipient", "sender", "last_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_recipient_sender_last_attempt_at", table_name="outbox")
    op.drop_table("replies")
