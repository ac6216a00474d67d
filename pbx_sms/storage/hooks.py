"""Points where other parts of pbx-sms react to configuration changes.

``rule_deleted`` is called in the same transaction as the deletion of a rule (``rules delete``,
``rules import --replace``, ``accounts remove``). The outbox fills it in: it must cancel the rule's
queued SMS (status ``cancelled``, reason "rule deleted") while the SMS log keeps the rule's name.
Until the outbox tables exist there is nothing pending to cancel, so it does nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def rule_deleted(session: Session, *, rule_id: int, account_name: str, rule_name: str) -> int:
    """Cancel the pending SMS of a rule that is being deleted; returns how many were cancelled.

    OUTBOX HOOK: to be filled by the outbox (issue 5). Nothing to cancel before the outbox exists.
    """
    del session, rule_id, account_name, rule_name
    return 0
