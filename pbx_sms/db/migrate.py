"""Schema migrations (Alembic, shipped inside the package) run from code."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from pbx_sms.db.engine import SQLITE_BEGIN_OPTION

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant: serialises concurrent first-run upgrades of one PostgreSQL database.
_PG_UPGRADE_LOCK_KEY = 0x5B5_5A5


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(engine: Engine) -> bool:
    """Bring the schema to the newest revision. Returns True when something was applied.

    Safe to call from several processes at once: they take the database's write lock (SQLite) or an
    advisory lock (PostgreSQL) and the later ones find nothing to do.
    """
    with engine.connect() as probe:
        if current_revision(probe) == head_revision():
            return False
    locked = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    with locked.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_UPGRADE_LOCK_KEY})
        before = current_revision(connection)
        if before == head_revision():
            return False
        command.upgrade(alembic_config(connection), "head")
        log.info(
            "database schema upgraded from %s to %s",
            before or "empty",
            head_revision(),
            extra={"from_revision": before, "to_revision": head_revision()},
        )
        return True
