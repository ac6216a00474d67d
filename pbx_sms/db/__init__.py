"""Database plumbing every feature stands on: engine, column types, all tables, migrations (SQLite or PostgreSQL).

Import from the submodules (``pbx_sms.db.engine`` ...): this package imports nothing itself, so a
caller that needs only the engine (the AGI hook, on every hangup) does not pay for Alembic.
"""
