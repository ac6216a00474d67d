"""Who makes the changes of a write session, for the audit log: "web:jan", "cli:root", "daemon".

Set once where the session is opened (the CLI's and the web's write sessions); storage code that
records a change reads it from the session, so no change function needs an extra argument.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

ACTOR_KEY = "pbx_sms_actor"
UNKNOWN_ACTOR = "unknown"


def set_actor(session: Session, actor: str) -> None:
    session.info[ACTOR_KEY] = actor


def actor_of(session: Session) -> str:
    actor = session.info.get(ACTOR_KEY)
    return actor if isinstance(actor, str) else UNKNOWN_ACTOR
