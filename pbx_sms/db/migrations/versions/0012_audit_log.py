"""The audit log (see pbx_sms/db/audit_table.py): one row per change to rules, accounts, numbers,
senders, opt-outs, users and tokens.

A new table only; not configuration, so no ``config_version`` trigger. Removing an account keeps its
entries (with its name) and sets their account_id to NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pbx_sms.db.types import UtcDateTime

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="SET NULL", name="fk_audit_log_account_id_accounts"),
            nullable=True,
        ),
        sa.Column("account_name", sa.String(100), nullable=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_log_account_id_id", "audit_log", ["account_id", "id"])
    op.create_index("ix_audit_log_account_name_id", "audit_log", ["account_name", "id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
