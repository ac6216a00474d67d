"""Configuration tables: accounts, numbers, senders, rules, opt-outs, and the change counter."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from pbx_sms.db.types import UtcDateTime

revision = "0001"
down_revision = None

CONFIG_TABLES = ("accounts", "numbers", "senders", "rules", "optouts")
PG_BUMP_FUNCTION = "pbx_sms_bump_config_version"
PG_TOUCH_FUNCTION = "pbx_sms_touch_updated_at"


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", UtcDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), server_default=sa.func.current_timestamp(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("allowed_countries", sa.String(400), nullable=False),
        sa.Column("sms_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("daily_cap IS NULL OR daily_cap >= 0", name="daily_cap_not_negative"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "numbers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("e164", sa.String(16), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("e164"),
    )
    op.create_index("ix_numbers_account_id", "numbers", ["account_id"])
    op.create_table(
        "senders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sender", sa.String(16), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("account_id", "sender"),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("direction", sa.String(3), server_default=sa.text("'any'"), nullable=False),
        sa.Column("statuses", sa.String(100), nullable=False),
        sa.Column("numbers", sa.Text(), server_default=sa.text("'all'"), nullable=False),
        sa.Column("talk_min_s", sa.Integer(), nullable=True),
        sa.Column("talk_max_s", sa.Integer(), nullable=True),
        sa.Column("schedule", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Text(), server_default=sa.text("'other_party'"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("delay_s", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("min_interval_s", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_parts", sa.Integer(), nullable=True),
        sa.Column("transliterate", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("account_id", "name"),
    )
    op.create_table(
        "optouts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("e164", sa.String(16), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("account_id", "e164"),
    )
    op.create_index("ix_optouts_e164", "optouts", ["e164"])
    op.create_index(
        "uq_optouts_global_e164",
        "optouts",
        ["e164"],
        unique=True,
        sqlite_where=sa.text("account_id IS NULL"),
        postgresql_where=sa.text("account_id IS NULL"),
    )
    op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.execute("INSERT INTO config_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for table in CONFIG_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER trg_{table}_{event.lower()}_version AFTER {event} ON {table} "
                "BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; END"
            )
        # Hand-written UPDATEs rarely set updated_at: do it for them (the ORM sets it itself).
        op.execute(
            f"CREATE TRIGGER trg_{table}_touch AFTER UPDATE ON {table} "
            "FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at "
            f"BEGIN UPDATE {table} SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END"
        )


def _postgres_triggers() -> None:
    op.execute(
        f"CREATE FUNCTION {PG_BUMP_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE config_version SET version = version + 1 WHERE id = 1; RETURN NULL; END $$"
    )
    op.execute(
        f"CREATE FUNCTION {PG_TOUCH_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN NEW.updated_at := now(); END IF; "
        "RETURN NEW; END $$"
    )
    for table in CONFIG_TABLES:
        op.execute(
            f"CREATE TRIGGER trg_{table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_BUMP_FUNCTION}()"
        )
        op.execute(
            f"CREATE TRIGGER trg_{table}_touch BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {PG_TOUCH_FUNCTION}()"
        )


def downgrade() -> None:
    for table in ("config_version", "optouts", "rules", "senders", "numbers", "accounts"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {PG_BUMP_FUNCTION}()")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_TOUCH_FUNCTION}()")
