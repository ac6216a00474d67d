"""The AGI hook's PostgreSQL role (deploy/pbx-sms-agi-role.sql): it records calls and can do nothing else.

The role is created from the shipped file, as the README says (a unique name per test: roles are
global to the PostgreSQL cluster), the hook runs as Asterisk runs it, logged in as that role, and
then the role tries what an attacker with the asterisk user's rights would.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from conftest import POSTGRES_URL
from paths import ROOT
from sqlalchemy.engine import make_url

from e2e.test_agi_hook import agi_values, call_rows, run_hook
from pbx_sms.storage.database import open_database

ROLE_SQL = ROOT / "deploy" / "pbx-sms-agi-role.sql"
SHIPPED_ROLE = "pbx_sms_agi"


@dataclass
class AgiRole:
    name: str
    schema: str
    hook_url: str  # the database URL agi.toml would hold: the role, the pbx-sms schema
    owner_url: str  # the daemon's


def admin_dsn() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def agi_role() -> Iterator[AgiRole]:
    schema = f"test_{uuid.uuid4().hex[:16]}"
    name = f"{SHIPPED_ROLE}_{uuid.uuid4().hex[:8]}"
    scoped = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    owner_url = scoped.render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        open_database(owner_url).close()  # `pbx-sms db upgrade` first, as the file says
        statements = ROLE_SQL.read_text().replace(SHIPPED_ROLE, name).replace("SCHEMA public", f'SCHEMA "{schema}"')
        with psycopg.connect(admin_dsn(), autocommit=True) as admin:
            admin.execute(f'SET search_path = "{schema}"')
            admin.execute(statements.encode())
        hook_url = scoped.set(username=name, password="CHANGE-ME-agi-password").render_as_string(hide_password=False)
        yield AgiRole(name, schema, hook_url, owner_url)
    finally:
        with psycopg.connect(admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_the_shipped_file_creates_the_role_the_readme_names() -> None:
    text = ROLE_SQL.read_text()
    assert re.search(rf"^CREATE ROLE {SHIPPED_ROLE} LOGIN PASSWORD 'CHANGE-ME", text, re.MULTILINE)
    grants = re.findall(r"^GRANT .*;$", text, re.MULTILINE)
    assert grants == [
        f"GRANT USAGE ON SCHEMA public TO {SHIPPED_ROLE};",
        f"GRANT INSERT ON calls TO {SHIPPED_ROLE};",
        f"GRANT SELECT (pbx, call_id) ON calls TO {SHIPPED_ROLE};",
    ]
    readme = (ROOT / "README.md").read_text()
    assert "deploy/pbx-sms-agi-role.sql" in readme
    assert "GRANT INSERT, SELECT ON calls" not in readme  # the whole call log is more than the hook needs


def test_the_role_records_a_call_through_the_hook_and_a_second_report_adds_nothing(agi_role: AgiRole) -> None:
    settings = {"PBX_SMS_DATABASE_URL": agi_role.hook_url, "PBX_SMS_COUNTRY": "PL"}
    first = run_hook(settings, agi_values())
    assert first.returncode == 0
    assert "recorded: in" in first.stderr and "already" not in first.stderr, first.stderr
    second = run_hook(settings, agi_values(dial_status="NOANSWER"))
    assert "already recorded" in second.stderr, second.stderr
    [row] = call_rows(agi_role.owner_url)
    assert (row["call_id"], row["status"], row["source"]) == ("1700000000.42", "answered", "agi")


ATTEMPTS = {
    "read the call log's numbers": "SELECT other_party FROM calls",
    "change a call": "UPDATE calls SET status = 'busy'",
    "delete a call": "DELETE FROM calls",
    "change a rule": "UPDATE rules SET enabled = true",
    "add a rule": "INSERT INTO rules DEFAULT VALUES",
    "read the outbox": "SELECT recipient FROM outbox",
    "queue an SMS": "INSERT INTO outbox DEFAULT VALUES",
    "cancel SMS": "UPDATE outbox SET status = 'cancelled'",
    "change an account": "UPDATE accounts SET daily_cap = NULL",
    "drop the opt-outs": "DELETE FROM optouts",
    "create a table": "CREATE TABLE mine (x int)",
}


def test_the_role_cannot_read_or_change_anything_else(agi_role: AgiRole) -> None:
    dsn = make_url(agi_role.hook_url).set(drivername="postgresql").render_as_string(hide_password=False)
    refused = {}
    with psycopg.connect(dsn, autocommit=True) as connection:
        for what, statement in ATTEMPTS.items():
            try:
                connection.execute(statement.encode())
            except psycopg.errors.InsufficientPrivilege:
                refused[what] = True
            else:
                refused[what] = False
    assert refused == dict.fromkeys(ATTEMPTS, True)
