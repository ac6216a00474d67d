"""A deleted rule cancels its queued SMS in the database itself.

Before, the CLI's storage code called into the outbox to do it, so a rule deleted with plain SQL
(documented, as with Asterisk Realtime tables) left its SMS queued and they still went out. Now a
row trigger on ``rules`` sets its ``queued`` outbox rows to ``cancelled`` with reason
``rule_deleted``, whoever deletes it (CLI, SQL, an account removal). The SMS log keeps the rule's
name: it is stored on every outbox row. Rows being sent (``sending``) are left to finish.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"

PG_FUNCTION = "pbx_sms_cancel_deleted_rule_sms"
_CANCEL = (
    "UPDATE outbox SET status = 'cancelled', reason = 'rule_deleted', updated_at = {now} "
    "WHERE rule_id = OLD.id AND status = 'queued'"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {_CANCEL.format(now='now()')}; RETURN OLD; END $$"
        )
        op.execute(
            f"CREATE TRIGGER trg_rules_cancel_sms AFTER DELETE ON rules FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
        )
    else:
        # CURRENT_TIMESTAMP is naive UTC text, as UtcDateTime stores it on SQLite.
        op.execute(
            "CREATE TRIGGER trg_rules_cancel_sms AFTER DELETE ON rules FOR EACH ROW "
            f"BEGIN {_CANCEL.format(now='CURRENT_TIMESTAMP')}; END"
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS trg_rules_cancel_sms" + (" ON rules" if _is_postgres() else ""))
    if _is_postgres():
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"
