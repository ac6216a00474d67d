"""The completed call: what the call tracker (or the AGI hook) hands to the rule matcher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Direction = Literal["in", "out", "internal"]
CallStatus = Literal["answered", "no_answer", "busy", "failed"]
# How a call was known. By the AMI tracker: every event seen ("full"), partly seen across a gap in the AMI
# stream ("gap"), or known only from its Cdr records and late events ("cdr"). By the hangup hook, from the
# caller's channel alone: a definite result (a Dial()/Queue() outcome or the answer time, "hook") or a
# guess where the channel said nothing definite ("hint"). pbx_sms.core.views ranks them.
Evidence = Literal["full", "gap", "cdr", "hook", "hint"]


@dataclass(frozen=True, slots=True)
class CompletedCall:
    """One finished call (one Asterisk Linkedid), classified.

    ``number`` is the company number in E.164 (None for internal calls); ``other_party`` is
    E.164 when it is a phone number, else the raw caller ID (``anonymous``, an extension ...).
    Times are timezone-aware (UTC).
    """

    call_id: str
    direction: Direction
    number: str | None
    other_party: str
    status: CallStatus
    talk_s: int
    started_at: datetime
    ended_at: datetime
    evidence: Evidence = "full"

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "direction": self.direction,
            "number": self.number,
            "other_party": self.other_party,
            "status": self.status,
            "talk_s": self.talk_s,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "evidence": self.evidence,
        }
