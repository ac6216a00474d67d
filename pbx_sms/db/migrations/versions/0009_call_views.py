"""Two views of one call: the better evidence is the call's truth, the other view is kept beside it.

- ``calls.other_view``: the report of the call that is not its truth (JSON: source, evidence, direction,
  number, other party, status, talk time, times, when received), NULL while only one report came.
- ``calls.views_disagree``: the two views would be matched differently (direction, numbers, status or
  talk time differ): what an operator looks for.
- ``calls.replan``: a better view replaced the truth after the call may have been processed: the daemon
  re-plans its SMS (cancels what the weaker view queued and has not sent, queues what the better plans).

Plain ADD/DROP COLUMN; existing calls had one view each, so the defaults describe them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("calls", sa.Column("other_view", sa.Text(), nullable=True))
    op.add_column("calls", sa.Column("views_disagree", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("calls", sa.Column("replan", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (as 0007 and 0008 do).
    for column in ("replan", "views_disagree", "other_view"):
        op.execute(f"ALTER TABLE calls DROP COLUMN {column}")
