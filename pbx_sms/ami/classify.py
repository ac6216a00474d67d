"""Turn the tracked state of a finished call into a CompletedCall (pure).

Status, over all legs of the call:
- ``answered``: a person's leg was connected to the caller: a dial attempt by a caller channel ended
  in ANSWER (a queue's member answering is one too), or two parties of the call were bridged.
  The PBX answering the caller itself (IVR, queue ``Answer()``) is not a person.
- ``no_answer``: a leg rang unanswered (NOANSWER), the caller hung up while it rang (CANCEL), or the
  PBX had answered the caller (queue/IVR) and nobody took the call before it ended.
- ``busy``: a leg was busy.
- ``failed``: congestion, unreachable, or any other failure.
Talk time runs from the person's answer until the last moment two parties were bridged, floored, and
never past the call's own end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

from pbx_sms.ami.call_state import CallState, ChannelState
from pbx_sms.ami.cdr import person_talk_s, span_s
from pbx_sms.core.asterisk import (
    CDR_DISPOSITION_STATUS,
    DIAL_BUSY,
    DIAL_END_STILL_RINGING,
    DIAL_UNANSWERED,
    UNKNOWN_CALLER,
    direction_of,
    status_of_hangup_cause,
)
from pbx_sms.core.call import CallStatus, CompletedCall, Direction, Evidence
from pbx_sms.core.phone import Party, classify_party, normalise

if TYPE_CHECKING:
    from pbx_sms.ami.tracker import TrackerConfig

# DialEnd statuses meaning a leg rang (or was about to) and nobody took it.
RANG_STATUSES = DIAL_UNANSWERED | DIAL_END_STILL_RINGING
# Over the CDRs of a call's dial attempts, the first of these any of them says is the call's status.
CDR_STATUS_PRIORITY: tuple[CallStatus, ...] = ("answered", "no_answer", "busy", "failed")


class Parties(NamedTuple):
    direction: Direction
    number: str | None
    other_party: str


def classify_call(call: CallState, config: TrackerConfig) -> CompletedCall:
    """The CompletedCall for a call whose channels have all hung up (or that is flushed)."""
    ended_at_s = call.ended_at_s if call.ended_at_s is not None else call.started_at_s
    started_at_s = call.started_at_s
    if not call.seen_from_start:
        # First heard of mid-way: its CDRs know how long it lasted (zone-less times, so only their span).
        cdr_span_s = span_s(call.cdrs)
        if cdr_span_s is not None:
            started_at_s = min(started_at_s, ended_at_s - cdr_span_s)
    status, talk_s = call_status(call, ended_at_s)
    parties = call_parties(call, config)
    return CompletedCall(
        call_id=call.linkedid,
        direction=parties.direction,
        number=parties.number,
        other_party=parties.other_party,
        status=status,
        talk_s=talk_s,
        started_at=_utc(started_at_s),
        ended_at=_utc(max(ended_at_s, started_at_s)),
        evidence=call_evidence(call),
    )


def call_evidence(call: CallState) -> Evidence:
    """``full`` when every event of the call was seen; ``cdr`` when it was heard of only after it
    began and no dial outcome or bridge of it was seen (its status comes from its CDRs); else ``gap``."""
    if call.fully_seen:
        return "full"
    outcome_seen = bool(call.dial_statuses) or call.person_answer_at_s is not None
    if call.seen_from_start or outcome_seen or call.first_connected_at_s is not None:
        return "gap"
    return "cdr"


def call_status(call: CallState, ended_at_s: float) -> tuple[CallStatus, int]:
    """(status, talk seconds) over all legs of the call.  For a call not fully seen, its CDRs may
    know better (the answer may have come in the gap): the first status in CDR_STATUS_PRIORITY wins."""
    status, talk_s = _status_from_events(call, ended_at_s)
    if call.fully_seen or status == "answered":
        return status, talk_s
    from_cdrs = _cdr_status(call)
    if from_cdrs is not None and CDR_STATUS_PRIORITY.index(from_cdrs[0]) < CDR_STATUS_PRIORITY.index(status):
        return from_cdrs
    return status, talk_s


def _status_from_events(call: CallState, ended_at_s: float) -> tuple[CallStatus, int]:
    answer_at_s = _earliest(call.person_answer_at_s, call.first_connected_at_s)
    if answer_at_s is not None:
        return "answered", _floor_seconds(_talk_end_s(call, ended_at_s) - answer_at_s)
    statuses = set(call.dial_statuses)
    unresolved_legs = call.dialled_legs - call.ended_legs
    if statuses & RANG_STATUSES or unresolved_legs:
        return "no_answer", 0
    if any(channel.was_up and not channel.dial_destination for channel in call.channels.values()):
        # The PBX itself answered (queue, IVR) and no person ever took the call: the caller waited
        # and gave up or was timed out, whatever the legs tried meanwhile said (busy members...).
        return "no_answer", 0
    if statuses & DIAL_BUSY:
        return "busy", 0
    if statuses:
        return "failed", 0
    return _status_without_dials(call, call.origin())


def _status_without_dials(call: CallState, origin: ChannelState | None) -> tuple[CallStatus, int]:
    # No dial events at all (lost, or a dialplan that never dialled): fall back on the CDRs.
    from_cdrs = _cdr_status(call)
    if from_cdrs is not None:
        return from_cdrs
    cause = origin.hangup_cause if origin is not None else ""
    return status_of_hangup_cause(cause) or "no_answer", 0


def _cdr_status(call: CallState) -> tuple[CallStatus, int] | None:
    """What the CDRs of the call's dial attempts say (those with a destination channel; the caller's
    own CDR only says the PBX answered), by CDR_STATUS_PRIORITY; None without any."""
    cdr_statuses = {
        CDR_DISPOSITION_STATUS.get(cdr.disposition, "failed") for cdr in call.cdrs if cdr.destination_channel
    }
    for status in CDR_STATUS_PRIORITY:
        if status in cdr_statuses:
            return status, person_talk_s(call.cdrs, call.linkedid) if status == "answered" else 0
    return None


def _talk_end_s(call: CallState, ended_at_s: float) -> float:
    if call.connected_since_s is not None:
        return ended_at_s  # still bridged when the state ended (flushed, or a lost BridgeLeave)
    if call.last_disconnected_at_s is not None:
        # Never past the call's own end: a channel that left for another call (a transfer) may have
        # been seen bridged after this call's last channel hung up.
        return min(call.last_disconnected_at_s, ended_at_s)
    # Answered but never bridged (the caller hung up at the moment of answer): until the leg left.
    leg_ends = [
        channel.hung_up_at_s
        for uniqueid in call.answered_legs
        if (channel := call.channels.get(uniqueid)) is not None and channel.hung_up_at_s is not None
    ]
    return max(leg_ends, default=ended_at_s)


def call_parties(call: CallState, config: TrackerConfig) -> Parties:
    """Direction, company number and the other party (PBXSMS_OTHER when the dialplan set it)."""
    origin = call.origin()
    caller_raw = (origin.caller_num if origin else "") or UNKNOWN_CALLER
    called_raw = origin.exten if origin else ""
    caller = classify_party(caller_raw, config.country, config.internal_max_digits)
    called = classify_party(called_raw, config.country, config.internal_max_digits)
    # What an extension dialled out: the dialplan strips the outbound prefix before the trunk.
    dialled = classify_party(
        _without_prefix(called_raw, config.outbound_prefix), config.country, config.internal_max_digits
    )
    direction = direction_of(call.direction_var)
    if direction is None:
        direction = _direction_from_dialplan(origin, caller, called, dialled, config)
    if direction == "internal":
        return Parties("internal", None, called.raw or called_raw)
    if call.other_var:
        other = classify_party(call.other_var, config.country, config.internal_max_digits)
    else:
        other = caller if direction == "in" else dialled
    did = _company_number(call.did_var, config.country)
    if direction == "in":
        return Parties("in", did or called.e164, other.display)
    number = did or _outbound_company_number(call.channels.values(), other, config)
    return Parties("out", number, other.display)


def _direction_from_dialplan(
    origin: ChannelState | None, caller: Party, called: Party, dialled: Party, config: TrackerConfig
) -> Direction:
    if caller.kind == "internal" and called.kind == "internal":
        return "internal"
    context = origin.context if origin else ""
    if context in config.inbound_contexts:
        return "in"
    if context in config.outbound_contexts:
        return "out"
    # Neither context is configured: an extension dialling a public number calls out; anything
    # else came in from outside.
    if caller.kind == "internal" and dialled.e164 is not None:
        return "out"
    return "in"


def _without_prefix(exten: str, outbound_prefix: str) -> str:
    if outbound_prefix and exten.startswith(outbound_prefix) and len(exten) > len(outbound_prefix):
        return exten[len(outbound_prefix) :]
    return exten


def _company_number(did_var: str, country: str) -> str | None:
    value = did_var.strip()
    if not value:
        return None
    return normalise(value, country) or value


def _outbound_company_number(channels: Iterable[ChannelState], called: Party, config: TrackerConfig) -> str | None:
    # Without PBXSMS_DID the company number is the caller ID the outbound route presented.
    for channel in sorted(channels, key=lambda c: c.created_at_s):
        party = classify_party(channel.last_caller_num, config.country, config.internal_max_digits)
        if party.e164 is not None and party.e164 != called.e164:
            return party.e164
    return None


def _earliest(*values: float | None) -> float | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _floor_seconds(duration_s: float) -> int:
    return max(0, math.floor(duration_s))


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(math.floor(epoch_s), tz=UTC)
