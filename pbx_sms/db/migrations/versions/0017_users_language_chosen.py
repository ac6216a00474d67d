"""users.language_chosen: whether the user picked the panel's language, or it is still the default.

Until now every user had a language ("en" unless given), so the browser's Accept-Language never
applied to a logged-in user. A user whose language is "pl" chose it (the default was "en"); an "en"
may be the default, so it is taken as not chosen: the browser's language applies until the user
picks one in the panel or with `pbx-sms users set --language`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.add_column("users", sa.Column("language_chosen", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(sa.text("UPDATE users SET language_chosen = :chosen WHERE language <> 'en'").bindparams(chosen=True))


def downgrade() -> None:
    # Not a batch copy: on SQLite that drops the old users table, and with foreign keys on the drop
    # deletes every token and session of every user (ON DELETE CASCADE). SQLite >= 3.35 drops a column
    # in place, as PostgreSQL does.
    op.execute(sa.text("ALTER TABLE users DROP COLUMN language_chosen"))
