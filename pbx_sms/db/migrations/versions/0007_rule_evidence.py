"""``rules.evidence``: which calls a rule acts on, by how completely they were seen.

A comma list of ``full``, ``gap`` and ``cdr`` (the rule file's ``when.evidence``); NULL, the value of
every existing rule, means all three, as before. Plain ADD/DROP COLUMN, so the rules table keeps its
triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("rules", sa.Column("evidence", sa.String(20), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; Alembic's batch mode would rebuild the table and lose its triggers.
    op.execute("ALTER TABLE rules DROP COLUMN evidence")
