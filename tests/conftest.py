"""Shared fixtures: where the test databases are, and the recordings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("PBX_SMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


DATABASE_KINDS = ("sqlite", "postgresql")


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh schema on POSTGRES_URL dropped afterwards.

    PostgreSQL being down fails the test (it is part of what is tested), it never skips it.
    """
    with empty_database(request.param, tmp_path) as url:
        yield url


@contextmanager
def empty_database(kind: str, directory: Path) -> Iterator[str]:
    """``database_url`` for fixtures of a wider scope: ``kind`` "sqlite" (pbx-sms.db in ``directory``, which
    must be the caller's own) or "postgresql"."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'pbx-sms.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"test_{uuid.uuid4().hex[:16]}"
    base = make_url(POSTGRES_URL).set(drivername="postgresql")
    admin_dsn = base.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        scoped = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


_TIERS = ("unit", "integration", "e2e", "static", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, taken from its folder, so `-m unit` and `tests/unit` agree."""
    for item in items:
        tier = next((part for part in item.path.parts[::-1] if part in _TIERS), None)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
