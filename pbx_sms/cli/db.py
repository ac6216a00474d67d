"""``pbx-sms db``: schema migrations; and what every command that uses the database shares."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pbx_sms.cli.context import fail, state
from pbx_sms.core.text_safety import escape_controls, escape_json_controls
from pbx_sms.db.engine import Database, make_engine
from pbx_sms.db.migrate import current_revision, head_revision, upgrade_schema
from pbx_sms.db.url import DatabaseUrlError, normalise_database_url, safe_url
from pbx_sms.storage.actor import set_actor
from pbx_sms.storage.database import open_database
from pbx_sms.storage.errors import StorageError

app = typer.Typer(no_args_is_help=True, help="The configuration database: schema migrations and housekeeping.")


@contextmanager
def opened_database(ctx: typer.Context) -> Iterator[Database]:
    """The configuration database of the settings, created/upgraded on first use; user errors exit 1."""
    settings = state(ctx).settings()
    try:
        database = open_database(settings.database_url, timezone=settings.timezone, country=settings.country)
    except (DatabaseUrlError, StorageError) as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"cannot open the database {_where(settings.database_url)}: {_first_line(exc)}")
    try:
        yield database
    except StorageError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"database {_where(settings.database_url)}: {_first_line(exc)}")
    finally:
        database.close()


def cli_actor() -> str:
    """The shell user behind a CLI change, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container's), no $USER
        return f"cli:uid {os.getuid()}"


@contextmanager
def write_session(ctx: typer.Context) -> Iterator[Session]:
    """One transaction that reads and writes; committed when the command succeeds."""
    with opened_database(ctx) as database, database.write_session() as session:
        set_actor(session, cli_actor())
        yield session


@contextmanager
def read_session(ctx: typer.Context) -> Iterator[Session]:
    with opened_database(ctx) as database, database.session() as session:
        yield session


def _first_line(exc: OperationalError) -> str:
    """The driver's reason, first line only: psycopg adds hints on more lines ("Is the server running...")."""
    reason = str(exc.orig or exc).strip()
    return reason.splitlines()[0] if reason else type(exc.orig or exc).__name__


def _where(url: str) -> str:
    try:
        return safe_url(normalise_database_url(url))
    except DatabaseUrlError:
        return "(invalid URL)"


def print_json(value: Any) -> None:
    typer.echo(escape_json_controls(json.dumps(value, ensure_ascii=False, indent=2, default=str)))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "(none)") -> None:
    """Plain aligned columns: readable in a terminal, greppable, no colour codes."""
    if not rows:
        typer.echo(empty)
        return
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[index]) for row in cells)) for index, header in enumerate(headers)]
    lines = [headers, *cells]
    for line in lines:
        typer.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def print_owned(key: str, rows: Sequence[tuple[str, str]], json_output: bool) -> None:
    """(value, account name) rows: JSON objects ``{key: value, "account": name}``, or a KEY/ACCOUNT table."""
    if json_output:
        print_json([{key: value, "account": name} for value, name in rows])
    else:
        print_table([key.upper(), "ACCOUNT"], rows)


def confirm_or_exit(question: str) -> None:
    """Ask on a terminal; without one (a script), refuse: destructive commands need --yes there."""
    if not sys.stdin.isatty():
        fail(f"{question} No terminal to ask on: add --yes to confirm.")
    if not typer.confirm(question, default=False):
        fail("cancelled")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    # A caller ID or a gateway's error text: on a terminal, ESC or a line break in it must stay text.
    return escape_controls(str(value))


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create the schema or bring it to the newest version (commands also do this on first use)."""
    settings = state(ctx).settings()
    try:
        engine = make_engine(settings.database_url)
    except DatabaseUrlError as exc:
        fail(str(exc))
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        applied = upgrade_schema(engine)
    except OperationalError as exc:
        fail(f"cannot upgrade the database {_where(settings.database_url)}: {_first_line(exc)}")
    finally:
        engine.dispose()
    # The default account is part of a usable schema.
    with opened_database(ctx):
        pass
    if applied:
        typer.echo(f"upgraded {_where(settings.database_url)} from {before or 'empty'} to {head_revision()}")
    else:
        typer.echo(f"{_where(settings.database_url)} is up to date (revision {head_revision()})")
