"""Several PBXs on one database: calls are known by (pbx, Linkedid); calls say how they were known.

- ``calls.pbx`` joins the primary key (``pbx``, ``call_id``): two Asterisk servers can produce the
  same Linkedid (it is epoch.sequence).
- ``outbox.pbx``: one SMS per (rule, pbx, call, recipient); a gateway local to one PBX (``ami``) sends
  only that PBX's rows.
- ``daemon_status.pbx``: which PBX a daemon serves (NULL on rows written before).
- ``calls.evidence``: ``full``, ``gap`` or ``cdr`` (how completely the call was seen), ``full`` for
  existing rows.

Existing call log and outbox rows get the name of the PBX that runs this migration: the
``PBX_SMS_PBX_NAME`` environment variable, else this host's name (what the daemon defaults to). A
``pbx_name`` set only in the TOML file is not seen here: run ``pbx-sms db upgrade`` with the
environment variable set (the README's upgrade command reads the same env file as the service).

On SQLite a primary key or unique constraint changes only by rebuilding the table; the triggers that
name the outbox (``trg_rules_cancel_sms`` on ``rules``, from 0005) are taken off for the rebuild and
put back as they were. The downgrade refuses when two PBXs share a Linkedid (the old key cannot
hold both).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0006"
down_revision = "0005"

PBX_NAME_VARIABLE = "PBX_SMS_PBX_NAME"


def pbx_name_for_existing_rows() -> str:
    return os.environ.get(PBX_NAME_VARIABLE) or socket.gethostname()


def upgrade() -> None:
    pbx = pbx_name_for_existing_rows()
    op.add_column("calls", sa.Column("evidence", sa.String(4), nullable=False, server_default="full"))
    op.add_column("daemon_status", sa.Column("pbx", sa.String(100), nullable=True))
    for table in ("calls", "outbox"):
        op.add_column(table, sa.Column("pbx", sa.String(100), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET pbx = :pbx").bindparams(pbx=pbx))
    with op.batch_alter_table("calls", recreate="auto") as batch:
        batch.alter_column("pbx", existing_type=sa.String(100), nullable=False)
        batch.drop_constraint("pk_calls", type_="primary")
        batch.create_primary_key("pk_calls", ["pbx", "call_id"])
    with _outbox_rebuild() as batch:
        batch.alter_column("pbx", existing_type=sa.String(100), nullable=False)
        batch.drop_constraint("uq_outbox_rule_id_call_id_recipient", type_="unique")
        batch.create_unique_constraint(
            "uq_outbox_rule_id_pbx_call_id_recipient", ["rule_id", "pbx", "call_id", "recipient"]
        )


def downgrade() -> None:
    for table in ("calls", "outbox"):
        key = "call_id" if table == "calls" else "rule_id, call_id, recipient"
        shared = op.get_bind().execute(
            sa.text(f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1) AS dup")
        )
        if shared.scalar():
            raise RuntimeError(f"{table}: several PBXs share a Linkedid; the schema before 0006 cannot hold them")
    with _outbox_rebuild() as batch:
        batch.drop_constraint("uq_outbox_rule_id_pbx_call_id_recipient", type_="unique")
        batch.create_unique_constraint("uq_outbox_rule_id_call_id_recipient", ["rule_id", "call_id", "recipient"])
        batch.drop_column("pbx")
    with op.batch_alter_table("calls", recreate="auto") as batch:
        batch.drop_constraint("pk_calls", type_="primary")
        batch.create_primary_key("pk_calls", ["call_id"])
        batch.drop_column("pbx")
        batch.drop_column("evidence")
    op.drop_column("daemon_status", "pbx")


@contextmanager
def _outbox_rebuild() -> Iterator[BatchOperations]:
    """A batch alteration of the outbox that keeps every trigger naming it (SQLite drops them, or
    refuses to rename a table while a trigger names a missing one)."""
    bind = op.get_bind()
    triggers: list[tuple[str, str]] = []
    if bind.dialect.name == "sqlite":
        triggers = [
            (name, sql)
            for name, sql in bind.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%outbox%'")
            )
        ]
        for name, _sql in triggers:
            op.execute(f'DROP TRIGGER "{name}"')
    # The reflected CHECK constraint keeps its full name (the metadata's convention would prefix it again).
    with op.batch_alter_table("outbox", recreate="auto", naming_convention={"ck": "%(constraint_name)s"}) as batch:
        yield batch
    for _name, sql in triggers:
        op.execute(sql)
