"""Opening the configuration database: URL → engine → schema up to date → the default account."""

from __future__ import annotations

from pbx_sms.config import Settings
from pbx_sms.db.engine import Database, make_engine
from pbx_sms.db.migrate import upgrade_schema
from pbx_sms.storage.accounts import ensure_default_account


def open_database(url: str, *, timezone: str = "Europe/Warsaw", country: str = "PL", upgrade: bool = True) -> Database:
    """Open the database at ``url``; create or upgrade its schema on first use and make sure the
    ``default`` account exists (with this time zone and country when it has to be created)."""
    database = Database(make_engine(url))
    try:
        if upgrade:
            upgrade_schema(database.engine)
            # Read, then maybe insert: on SQLite a deferred transaction that another first use wrote
            # under in between fails at once ("database is locked"); IMMEDIATE waits its turn instead.
            with database.write_session() as session:
                ensure_default_account(session, timezone, country)
    except BaseException:
        database.close()
        raise
    return database


def open_database_from_settings(settings: Settings) -> Database:
    return open_database(settings.database_url, timezone=settings.timezone, country=settings.country)
