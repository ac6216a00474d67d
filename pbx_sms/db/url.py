"""Database URLs as operators write them → the URL SQLAlchemy needs (pure)."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_POSTGRES_NAMES = {"postgresql", "postgres", "postgresql+psycopg"}


class DatabaseUrlError(ValueError):
    """The database URL cannot be used; the message never contains the password."""


def normalise_database_url(url: str) -> URL:
    """``sqlite:///PATH``, ``postgresql://…`` or ``postgresql+psycopg://…`` → a URL on a driver we ship.

    ``postgresql://`` would make SQLAlchemy look for psycopg2; we ship psycopg 3, so it is rewritten.
    """
    text = url.strip()
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise DatabaseUrlError(
            "PBX_SMS_DATABASE_URL: not a database URL (expected sqlite:///PATH or postgresql://USER@HOST/DB)"
        ) from None
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if parsed.host or parsed.username:
            raise DatabaseUrlError("PBX_SMS_DATABASE_URL: a sqlite URL has no host; write sqlite:///PATH")
        return parsed.set(drivername="sqlite+pysqlite")
    if parsed.drivername in _POSTGRES_NAMES:
        if not parsed.database:
            raise DatabaseUrlError("PBX_SMS_DATABASE_URL: the PostgreSQL URL names no database (…/DBNAME)")
        return parsed.set(drivername="postgresql+psycopg")
    raise DatabaseUrlError(
        f"PBX_SMS_DATABASE_URL: unsupported database {parsed.drivername!r} "
        "(expected sqlite:///PATH, postgresql://… or postgresql+psycopg://…)"
    )


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def safe_url(url: URL) -> str:
    """The URL for messages and logs: password hidden."""
    return url.render_as_string(hide_password=True)
