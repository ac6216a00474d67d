"""Points where other parts of pbx-sms react to configuration changes.

``rule_deleted`` is called in the same transaction as the deletion of a rule (``rules delete``,
``rules import --replace``, ``accounts remove``). The outbox fills it in: it must cancel the rule's
queued SMS (status ``cancelled``, reason "rule deleted") while the SMS log keeps the rule's name.
The outbox (pbx_sms.outbox.sql.cancel_rule_sms) does that in the session's own transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def rule_deleted(session: Session, *, rule_id: int, account_name: str, rule_name: str) -> int:
    """Cancel the pending SMS of a rule that is being deleted; returns how many were cancelled."""
    from pbx_sms.outbox.sql import cancel_rule_sms  # the outbox imports storage: import it late
    from pbx_sms.storage.types import utc_now

    del account_name, rule_name  # the log keeps the name: it is stored on every outbox row
    return cancel_rule_sms(session.connection(), rule_id, utc_now())
