"""The configuration database: accounts, company numbers, sender IDs, rules, opt-outs (SQLite or PostgreSQL).

Import from the submodules (``pbx_sms.storage.database`` ...): this package imports nothing itself, so a
caller that needs only the engine (the AGI hook, on every hangup) does not pay for Alembic.
"""
