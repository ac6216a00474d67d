"""The ``unclear`` SMS status; the minimum interval per caller for fixed recipients.

- ``outbox.status`` may be ``unclear``: an attempt may have gone out and nobody knows (a timeout after
  the request was written, an answer that cannot be read, a crash mid-send). It counts as sent for the
  daily cap and the minimum interval. The status check constraint is widened to it.
- ``outbox.unclear_since``: since when (NULL on existing rows: none of them is unclear).
- An index on (rule_id, recipient, other_party, last_attempt_at): a fixed recipient's minimum interval
  is counted per caller.

On SQLite a CHECK constraint changes only by rebuilding the table; the triggers that name the outbox
are taken off for the rebuild and put back as they were (as in 0006). The downgrade refuses while a
row is ``unclear`` (the old constraint cannot hold it): decide them first (``pbx-sms outbox retry``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

from pbx_sms.db.types import UtcDateTime

revision = "0010"
down_revision = "0009"

CHECK = "ck_outbox_status_known"
OLD_STATUSES = ("queued", "sending", "sent", "failed", "suppressed", "cancelled")
NEW_STATUSES = (*OLD_STATUSES, "unclear")
INDEX = "ix_outbox_rule_id_recipient_other_party_last_attempt_at"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("unclear_since", UtcDateTime(), nullable=True))
    _replace_check(NEW_STATUSES)
    op.create_index(INDEX, "outbox", ["rule_id", "recipient", "other_party", "last_attempt_at"])


def downgrade() -> None:
    unclear = op.get_bind().execute(sa.text("SELECT count(*) FROM outbox WHERE status = 'unclear'")).scalar()
    if unclear:
        raise RuntimeError(
            f"outbox: {unclear} SMS are unclear; the schema before 0010 cannot hold them (decide them with "
            "`pbx-sms outbox retry`, or set them to failed, first)"
        )
    op.drop_index(INDEX, "outbox")
    _replace_check(OLD_STATUSES)
    op.execute("ALTER TABLE outbox DROP COLUMN unclear_since")


def _replace_check(statuses: tuple[str, ...]) -> None:
    with _outbox_rebuild() as batch:
        batch.drop_constraint(CHECK, type_="check")
        batch.create_check_constraint(CHECK, "status IN " + str(statuses))


@contextmanager
def _outbox_rebuild() -> Iterator[BatchOperations]:
    """A batch alteration of the outbox that keeps every trigger naming it (see 0006)."""
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
    with op.batch_alter_table("outbox", recreate="auto", naming_convention={"ck": "%(constraint_name)s"}) as batch:
        yield batch
    for _name, sql in triggers:
        op.execute(sql)
