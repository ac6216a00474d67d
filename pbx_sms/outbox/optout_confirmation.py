"""The confirmation texted to a number that just opted out by a reply (PBX_SMS_OPTOUT_CONFIRMATION).

Queued like any SMS, under rule id ``OPTOUT_CONFIRMATION_RULE_ID`` (the Gate lets it past that
number's new opt-out of the account, and nothing else) and the call id "optout-confirmation:DAY": the
outbox's unique (rule_id, pbx, call_id, recipient) then keeps it to one per number per day (UTC) for
free, whichever process queues it and however often the number answers STOP.
"""

from __future__ import annotations

from datetime import datetime

from pbx_sms.core.encoding import analyse
from pbx_sms.outbox.decisions import OPTOUT_CONFIRMATION_RULE_ID
from pbx_sms.outbox.model import NewSms

CONFIRMATION_RULE_NAME = "opt-out confirmation"
CONFIRMATION_PBX = "replies"


def confirmation_call_id(now: datetime) -> str:
    return f"optout-confirmation:{now.date().isoformat()}"


def confirmation_sms(account_id: int, to: str, sender: str, text: str, now: datetime) -> NewSms:
    size = analyse(text)
    return NewSms(
        account_id=account_id,
        rule_id=OPTOUT_CONFIRMATION_RULE_ID,
        rule_name=CONFIRMATION_RULE_NAME,
        pbx=CONFIRMATION_PBX,
        call_id=confirmation_call_id(now),
        other_party=to,
        call_ended_at=now,
        to=to,
        sender=sender,
        text=text,
        encoding=size.encoding,
        parts=size.parts,
        due_at=now,
        to_other_party=True,
    )
