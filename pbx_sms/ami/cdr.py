"""Cdr events: what a call's CDRs say, for calls whose channel events were partly or never seen (pure).

A Cdr event names its channel (``UniqueID``) and, with the ``linkedid => LinkedID`` mapping of the
shipped cdr_manager.conf, its call.  Its StartTime/AnswerTime/EndTime are the PBX's local time without
a zone: they are only subtracted from each other here (dating uses the event's Timestamp header).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from pbx_sms.ami.call_state import CdrRecord
from pbx_sms.ami.parser import AmiMessage
from pbx_sms.core.asterisk import CDR_ANSWERED

CDR_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# No call lasts longer (the tracker drops calls open for max_call_age_s, hours): a duration beyond it
# in a Cdr or CoreShowChannel is garbage, and unbounded it would date a call before year 1.
MAX_DURATION_S = 30 * 86_400


def cdr_record(message: AmiMessage) -> CdrRecord | None:
    """The CdrRecord of a Cdr event, or None without the UniqueID it needs."""
    uniqueid = message.get("UniqueID") or message.get("Uniqueid")
    if not uniqueid:
        return None
    return CdrRecord(
        uniqueid=uniqueid,
        disposition=message.get("Disposition").strip().upper(),
        destination_channel=message.get("DestinationChannel").strip(),
        billable_s=seconds_or_zero(message.get("BillableSeconds")),
        linkedid=message.get("LinkedID").strip(),
        answered_at=_local_time(message.get("AnswerTime")),
        ended_at=_local_time(message.get("EndTime")),
        started_at=_local_time(message.get("StartTime")),
    )


def span_s(cdrs: Iterable[CdrRecord]) -> float | None:
    """How long the call lasted by its CDRs (first start to last end), or None without usable times."""
    starts = [cdr.started_at for cdr in cdrs if cdr.started_at is not None]
    ends = [cdr.ended_at for cdr in cdrs if cdr.ended_at is not None]
    if not starts or not ends or max(ends) < min(starts):
        return None
    return min((max(ends) - min(starts)).total_seconds(), MAX_DURATION_S)


def person_talk_s(cdrs: Iterable[CdrRecord], linkedid: str) -> int:
    """Talk time of an answered call from its CDRs: from the person's answer to the last end of an
    answered leg, not a sum (the legs of one call overlap).

    A CDR of the caller's side keeps the moment the caller was first answered, which is the IVR's
    or queue's ``Answer()`` when there was one; a CDR of the callee's own channel (a Local channel's
    half, a dialplan on the phone's side) has the person's.  So the person's answer is the latest
    answer of the answered CDRs other than the caller's own (its first channel's, without a
    destination: the PBX answering).  Without usable times, the longest billed attempt."""
    answered = [
        cdr for cdr in cdrs if cdr.disposition == CDR_ANSWERED and (cdr.destination_channel or cdr.uniqueid != linkedid)
    ]
    starts = [cdr.answered_at for cdr in answered if cdr.answered_at is not None]
    ends = [cdr.ended_at for cdr in answered if cdr.ended_at is not None]
    if starts and ends and max(ends) >= max(starts):
        return min(math.floor((max(ends) - max(starts)).total_seconds()), MAX_DURATION_S)
    return max((cdr.billable_s for cdr in answered if cdr.destination_channel), default=0)


def seconds_or_zero(raw: str) -> int:
    """A Cdr's whole seconds, within [0, MAX_DURATION_S]; 0 when unusable."""
    try:
        return min(max(0, int(raw.strip())), MAX_DURATION_S)
    except ValueError:  # also a number of more than 4,300 digits (Python's int() limit)
        return 0


def clock_duration_s(raw: str) -> int:
    """An ``HH:MM:SS`` duration (CoreShowChannel's Duration) in seconds; 0 when unusable."""
    parts = raw.strip().split(":")
    # isdigit() alone also passes "²" (int() refuses it) and digit strings too long for int().
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() and len(part) <= 9 for part in parts):
        return 0
    hours, minutes, seconds = (int(part) for part in parts)
    return min(hours * 3600 + minutes * 60 + seconds, MAX_DURATION_S)


def _local_time(raw: str) -> datetime | None:
    try:
        return datetime.strptime(raw.strip(), CDR_TIME_FORMAT)
    except ValueError:
        return None
