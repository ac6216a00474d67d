"""The configuration database: accounts, company numbers, sender IDs, rules, opt-outs (SQLite or PostgreSQL)."""

from pbx_sms.storage.database import open_database, open_database_from_settings
from pbx_sms.storage.engine import Database
from pbx_sms.storage.errors import StorageError
from pbx_sms.storage.records import DEFAULT_ACCOUNT, AccountConfig

__all__ = [
    "DEFAULT_ACCOUNT",
    "AccountConfig",
    "Database",
    "StorageError",
    "open_database",
    "open_database_from_settings",
]
