"""A `pbx-sms web` app over a real database (SQLite or PostgreSQL), with users of every role and their tokens.

Two accounts, ``acme`` and ``globex``: an operator, and an admin and a viewer of each. Requests go
through FastAPI's TestClient (the real app, no server socket); ``as_(name)`` is a client carrying that
user's bearer token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from pbx_sms.config.models import Settings
from pbx_sms.core.clock import utc_now
from pbx_sms.db.engine import Database
from pbx_sms.storage.accounts import add_account
from pbx_sms.storage.api_tokens import create_token
from pbx_sms.storage.database import open_database
from pbx_sms.storage.users import add_user
from pbx_sms.web.app import create_app
from pbx_sms.web.context import WebContext

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
ACCOUNTS = ("acme", "globex")
# user name → (role, account)
USERS: dict[str, tuple[str, str | None]] = {
    "root": ("operator", None),
    "acme-admin": ("admin", "acme"),
    "acme-viewer": ("viewer", "acme"),
    "globex-admin": ("admin", "globex"),
    "globex-viewer": ("viewer", "globex"),
}


@dataclass
class WebWorld:
    database: Database
    settings: Settings
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def as_(self, user: str) -> TestClient:
        """A client sending ``user``'s bearer token (a new one per call: headers are the client's own)."""
        client = TestClient(self.client.app, raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return client


def web_world(
    database_url: str, *, settings: Settings | None = None, clock: Callable[[], datetime] = utc_now
) -> Iterator[WebWorld]:
    """The generator behind a ``web`` fixture: ``yield from web_world(database_url)``; ``clock``: the app's."""
    settings = settings or Settings(database_url=database_url)
    database = open_database(database_url)
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    with database.write_session() as session:
        for account_name in ACCOUNTS:
            add_account(session, account_name, timezone="Europe/Warsaw", country="PL")
        for name, (role, account) in USERS.items():
            add_user(session, name, role=role, account=account, password=PASSWORD, language="en", hasher=FAST_HASHER)
            _view, tokens[name] = create_token(session, name, now)
    app = create_app(WebContext(database, settings, clock=clock))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield WebWorld(database, settings, client, tokens)
    database.close()


def route_table_app() -> FastAPI:
    """The app as built, over a database never opened: for reading its routes and its OpenAPI schema."""
    return create_app(WebContext(Database(create_engine("sqlite://")), Settings(database_url="sqlite://")))
