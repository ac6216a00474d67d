"""Migration 0016: an account's SMS log page is read from an index, not by sorting all its SMS."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from pbx_sms.db.engine import SQLITE_BEGIN_OPTION
from pbx_sms.db.migrate import alembic_config
from pbx_sms.outbox.sql_log import select_logged
from pbx_sms.outbox.sql_rows import t
from pbx_sms.storage.database import open_database

INDEX = "ix_outbox_account_id_created_at_id"


def test_the_log_index_goes_down_and_up_with_migration_0016(database_url: str) -> None:
    database = open_database(database_url)
    try:

        def outbox_indexes() -> dict[str, list[str | None]]:
            return {index["name"]: index["column_names"] for index in inspect(database.engine).get_indexes("outbox")}

        assert outbox_indexes()[INDEX] == ["account_id", "created_at", "id"]
        with database.engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin() as connection:
            command.downgrade(alembic_config(connection), "0015")
        assert INDEX not in outbox_indexes()
    finally:
        database.close()
    open_database(database_url).close()  # up again
    reopened = open_database(database_url)
    try:
        assert INDEX in {index["name"] for index in inspect(reopened.engine).get_indexes("outbox")}
    finally:
        reopened.close()


def test_on_sqlite_a_page_of_the_log_walks_the_index_without_sorting(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path}/log.db")
    try:
        page = select_logged().where(t.c.account_id == 1).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(51)
        compiled = str(page.compile(database.engine, compile_kwargs={"literal_binds": True}))
        with database.engine.connect() as connection:
            plan = " | ".join(row[3] for row in connection.execute(text("EXPLAIN QUERY PLAN " + compiled)))
    finally:
        database.close()
    assert f"USING INDEX {INDEX}" in plan and "TEMP B-TREE" not in plan, plan
