"""Asterisk's words for how a call went, read the same way by the AMI listener and the AGI hook (pure).

The listener sees them in AMI events (DialEnd's DialStatus, Hangup's Cause, Cdr's Disposition), the hook
in channel variables (DIALSTATUS, QUEUESTATUS, HANGUPCAUSE); one vocabulary keeps a call classified the
same whichever way it came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pbx_sms.core.call import CallStatus, Direction

# Dial() results: the DIALSTATUS variable, and DialEnd's DialStatus for each leg.
DIAL_ANSWERED: Final = "ANSWER"
DIAL_BUSY: Final = frozenset({"BUSY"})
# The leg rang and nobody took it (NOANSWER), or the caller hung up while it rang (CANCEL).
DIAL_UNANSWERED: Final = frozenset({"NOANSWER", "CANCEL"})
# DialEnd also reports a leg that was still ringing when its dial ended (a queue or ring group moving
# on, the caller leaving) by the state it had reached; DIALSTATUS never takes these values.
DIAL_END_STILL_RINGING: Final = frozenset({"RINGING", "PROGRESS", "PROCEEDING", "ABORT"})

# Queue()'s QUEUESTATUS when a member took the call and the caller went on in the dialplan (option c).
QUEUE_ANSWERED: Final = frozenset({"CONTINUE"})

# Cdr dispositions: what a CDR says of the leg it describes.
CDR_ANSWERED: Final = "ANSWERED"
CDR_DISPOSITION_STATUS: Final[Mapping[str, CallStatus]] = {
    CDR_ANSWERED: "answered",
    "NO ANSWER": "no_answer",
    "BUSY": "busy",
    "FAILED": "failed",
    "CONGESTION": "failed",
}

# Q.850 hangup causes (Hangup's Cause, HANGUPCAUSE) that say how a call that reached no leg ended.
BUSY_CAUSES: Final = frozenset({"17"})
FAILURE_CAUSES: Final = frozenset({"1", "2", "3", "22", "27", "28", "34", "38", "41", "42", "44", "47", "58", "88"})

# The caller ID Asterisk shows for a caller it does not know; pbx-sms names an unknown caller the same way.
UNKNOWN_CALLER: Final = "<unknown>"

# Values of PBXSMS_DIRECTION (set by the dialplan's pbxsms-tag-in / pbxsms-tag-out, or by hand).
DIRECTION_WORDS: Final[Mapping[str, Direction]] = {
    "in": "in",
    "inbound": "in",
    "incoming": "in",
    "out": "out",
    "outbound": "out",
    "outgoing": "out",
    "internal": "internal",
}


def direction_of(word: str) -> Direction | None:
    """The direction a PBXSMS_DIRECTION value names (any case, spaces around ignored), or None."""
    return DIRECTION_WORDS.get(word.strip().lower())


def status_of_hangup_cause(cause: str) -> CallStatus | None:
    """busy or failed when the hangup cause says so; None when it says nothing (a plain hangup)."""
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in FAILURE_CAUSES:
        return "failed"
    return None
