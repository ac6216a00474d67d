"""Alembic environment: always driven from code (pbx_sms.db.migrate), on a given connection."""

from __future__ import annotations

from alembic import context

from pbx_sms.db.config_tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `pbx-sms db upgrade` (pbx_sms.db.migrate.upgrade_schema)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
