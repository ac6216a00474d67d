"""Users, API tokens, browser sessions and failed logins (see pbx_sms/db/auth_tables.py).

New tables only: nothing existing changes, and none of them bumps config_version (a login must not make
the daemons reload). Removing an account removes its users, and a user's tokens and sessions go with it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pbx_sms.db.types import UtcDateTime

revision = "0011"
down_revision = "0010"

ROLE_VALUES = ("operator", "admin", "viewer")
LANGUAGE_VALUES = ("pl", "en")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_users_account_id_accounts"),
            nullable=True,
        ),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.CheckConstraint("role IN " + str(ROLE_VALUES), name="ck_users_role_known"),
        sa.CheckConstraint("language IN " + str(LANGUAGE_VALUES), name="ck_users_language_known"),
        sa.CheckConstraint(
            "(role = 'operator' AND account_id IS NULL) OR (role <> 'operator' AND account_id IS NOT NULL)",
            name="ck_users_account_by_role",
        ),
    )
    op.create_index("ix_users_account_id", "users", ["account_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_api_tokens_user_id_users"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("digest", name="uq_api_tokens_digest"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_web_sessions_user_id_users"),
            nullable=False,
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("digest", name="uq_web_sessions_digest"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_last_seen_at", "web_sessions", ["last_seen_at"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failed_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_login_failures_user_name_failed_at", "login_failures", ["user_name", "failed_at"])
    op.create_index("ix_login_failures_address_failed_at", "login_failures", ["address", "failed_at"])
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])


def downgrade() -> None:
    for table in ("login_failures", "web_sessions", "api_tokens", "users"):
        op.drop_table(table)
