"""Outbox and SMS log: one row per SMS (see pbx_sms/db/outbox_table.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pbx_sms.db.types import UtcDateTime

revision = "0002"
down_revision = "0001"

STATUS_VALUES = ("queued", "sending", "sent", "failed", "suppressed", "cancelled")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("idempotency_key", sa.String(36), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("rule_name", sa.String(200), nullable=False),
        sa.Column("call_id", sa.String(100), nullable=False),
        sa.Column("other_party", sa.String(64), nullable=False),
        sa.Column("call_ended_at", UtcDateTime(), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("to_other_party", sa.Boolean(), nullable=False),
        sa.Column("min_interval_s", sa.Integer(), nullable=False),
        sa.Column("cancel_on_reach", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("scheduled_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(100), nullable=True),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("gateway", sa.String(50), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        sa.UniqueConstraint("rule_id", "call_id", "recipient", name="uq_outbox_rule_id_call_id_recipient"),
        sa.CheckConstraint("status IN " + str(STATUS_VALUES), name="ck_outbox_status_known"),
    )
    op.create_index("ix_outbox_status_due_at", "outbox", ["status", "due_at"])
    op.create_index("ix_outbox_status_locked_until", "outbox", ["status", "locked_until"])
    op.create_index("ix_outbox_account_id_last_attempt_at", "outbox", ["account_id", "last_attempt_at"])
    op.create_index(
        "ix_outbox_rule_id_recipient_last_attempt_at", "outbox", ["rule_id", "recipient", "last_attempt_at"]
    )
    op.create_index("ix_outbox_account_id_other_party", "outbox", ["account_id", "other_party"])
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])


def downgrade() -> None:
    op.drop_table("outbox")
