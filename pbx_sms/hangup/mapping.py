"""AGI hook arguments → a CompletedCall, or None with the reason (pure).

What the caller's channel can tell at hangup, and how it is read (app_dial.c and app_queue.c):
- ``SHARED(PBXSMS_ANSWERED_AT)``, set by the ``pbxsms-answered`` subroutine on the channel of the person
  who answered (Dial()'s ``U()`` option, queues.conf ``membergosub``): answered, and the talk time is
  the hangup time minus that. The one exact source of talk time; used first.
- ``DIALSTATUS`` of the last ``Dial()``: ANSWER → answered; NOANSWER / CANCEL → no_answer; BUSY → busy;
  CONGESTION / CHANUNAVAIL (or anything else) → failed. Every ``Dial()`` resets it, so after several
  dials only the last one speaks. Dial()'s ``ANSWEREDTIME`` is the caller channel's *up time*
  (``ast_channel_get_up_time_ms``) and ``DIALEDTIME`` its whole age: after an earlier ``Answer()``
  (an IVR, a greeting) ANSWEREDTIME counts the greeting too, so it is only an upper bound of the talk
  time (recorded with evidence ``hint``).
- ``Queue()`` sets ``ANSWEREDTIME`` since Asterisk 20.19, 22.9 and 23.3 (not in 21, 22.0–22.8, 23.0–23.2):
  cleared when Queue() starts, the time since a member was bridged when that bridge ends, 0 when the
  caller left unserved (also by hanging up). Dial() clears it too, so a value without DIALSTATUS ANSWER
  is Queue()'s: > 0 → a member answered, talked that long; 0 → nobody answered. The version is the AGI
  environment's ``agi_version``. Before those versions Queue() sets no time: a person taking a queue
  call shows only as ``MEMBERINTERFACE`` (queues.conf ``setinterfacevar = yes``) or through
  ``membergosub = pbxsms-answered``; only the latter gives the talk time.
- ``QUEUESTATUS`` (TIMEOUT, FULL, JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL, LEAVEUNAVAIL, WITHDRAW) means the
  caller left the queue unserved → no_answer; CONTINUE means a member took the call. A caller who
  hangs up while waiting leaves no QUEUESTATUS: on older versions nothing set at all, so no_answer
  is a default there, never a guess of "answered". The AMI listener sees every leg: its full view wins.
- Nothing dialled and no queue: the hangup cause decides (busy / failed causes), else no_answer.

Evidence (pbx_sms.core.views ranks it against the AMI tracker's): ``hook`` when the channel said
definitely what happened and how long a person talked, ``hint`` when status or talk time is a default
or an upper bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pbx_sms.core.asterisk import (
    DIAL_ANSWERED,
    DIAL_BUSY,
    DIAL_UNANSWERED,
    QUEUE_ANSWERED,
    UNKNOWN_CALLER,
    direction_of,
    status_of_hangup_cause,
)
from pbx_sms.core.call import CallStatus, CompletedCall, Direction, Evidence
from pbx_sms.core.phone import Party, classify_party, normalise
from pbx_sms.hangup.arguments import ARGUMENT_NAMES

# The first release of each Asterisk branch in which Queue() sets ANSWEREDTIME (app_queue.c, "Queue Timing
# Parity with Dial()"); branches after the newest listed have it, branches before the oldest and those
# missing here (21, EOL before the change) do not.
QUEUE_ANSWEREDTIME_SINCE: dict[int, tuple[int, int]] = {20: (20, 19), 22: (22, 9), 23: (23, 3)}
_VERSION = re.compile(r"(\d+)\.(\d+)")

# The calls table keeps the company number in 16 characters (E.164 is at most "+" and 15 digits).
MAX_NUMBER_CHARS = 16


@dataclass(frozen=True, slots=True)
class HookArguments:
    """The hook's arguments as the dialplan passed them (stripped strings), plus the channel's caller ID."""

    linkedid: str
    direction: str
    start_epoch: str
    end_epoch: str
    dial_status: str
    answered_time: str
    queue_status: str
    member_interface: str
    answered_epoch: str
    hangup_cause: str
    did: str
    other_party: str
    channel_caller: str = ""
    # The AGI environment's agi_version (e.g. "22.9.0"): what Queue()'s variables mean depends on it.
    asterisk_version: str = ""


@dataclass(frozen=True, slots=True)
class HookOutcome:
    """The call to record (None when the arguments do not describe one), why, and what was uncertain."""

    call: CompletedCall | None
    reason: str
    notes: tuple[str, ...] = ()


class ArgumentError(ValueError):
    """The dialplan passed fewer arguments than the hook reads (an outdated snippet)."""


def parse_arguments(values: Sequence[str], channel_caller: str = "", asterisk_version: str = "") -> HookArguments:
    """Positional AGI arguments → HookArguments. Extra arguments belong to the last (free-text) one."""
    expected = len(ARGUMENT_NAMES)
    if len(values) < expected:
        raise ArgumentError(
            f"expected {expected} AGI arguments ({', '.join(ARGUMENT_NAMES)}), got {len(values)}: "
            "the dialplan's AGI() line does not match this version of pbx-sms (see extensions_pbx_sms.conf)"
        )
    head = [value.strip() for value in values[: expected - 1]]
    tail = ",".join(values[expected - 1 :]).strip()
    fields = dict(zip(ARGUMENT_NAMES, [*head, tail], strict=True))
    return HookArguments(**fields, channel_caller=channel_caller.strip(), asterisk_version=asterisk_version.strip())


def queue_sets_answered_time(asterisk_version: str) -> bool:
    """Whether Queue() of this Asterisk (``agi_version``) sets ANSWEREDTIME; False when the version is not
    known (a GIT build, an empty value): its ANSWEREDTIME is then not read."""
    found = _VERSION.search(asterisk_version)
    if found is None:
        return False
    major, minor = int(found.group(1)), int(found.group(2))
    if major > max(QUEUE_ANSWEREDTIME_SINCE):
        return True
    since = QUEUE_ANSWEREDTIME_SINCE.get(major)
    return since is not None and (major, minor) >= since


def arguments_from_agi_env(env: Mapping[str, str]) -> list[str]:
    """The ``agi_arg_N`` values of an AGI environment, in order (N counts from 1, without gaps)."""
    values = []
    index = 1
    while f"agi_arg_{index}" in env:
        values.append(env[f"agi_arg_{index}"])
        index += 1
    return values


def map_call(args: HookArguments, country: str, internal_max_digits: int = 5) -> HookOutcome:
    if not args.linkedid:
        return HookOutcome(None, "no linkedid: the AGI line must pass ${CHANNEL(linkedid)} first")
    direction = direction_of(args.direction)
    if direction is None:
        return HookOutcome(
            None,
            f"call {args.linkedid}: PBXSMS_DIRECTION is {args.direction!r}, expected in or out "
            "(the channel was not tagged by pbxsms-tag-in / pbxsms-tag-out)",
        )
    end_s = _epoch(args.end_epoch)
    if end_s is None:
        return HookOutcome(None, f"call {args.linkedid}: end time {args.end_epoch!r} is not epoch seconds (${{EPOCH}})")
    start_s = _epoch(args.start_epoch)
    if start_s is None:
        return HookOutcome(
            None, f"call {args.linkedid}: start time {args.start_epoch!r} is not epoch seconds (PBXSMS_START)"
        )
    start_s = min(start_s, end_s)
    status, talk_s, evidence, notes = call_status(args, end_s)
    direction, number, other_party, party_notes = call_parties(args, direction, country, internal_max_digits)
    call = CompletedCall(
        call_id=args.linkedid,
        direction=direction,
        number=number,
        other_party=other_party,
        status=status,
        talk_s=talk_s,
        started_at=_utc(start_s),
        ended_at=_utc(end_s),
        evidence=evidence,
    )
    return HookOutcome(call, f"call {args.linkedid}: {direction}, {status}", (*notes, *party_notes))


def call_status(args: HookArguments, end_s: float) -> tuple[CallStatus, int, Evidence, tuple[str, ...]]:
    """(status, talk seconds, evidence, notes) from what the caller's channel says about its dials and queues."""
    dial = args.dial_status.upper()
    queue = args.queue_status.upper()
    answered_s = _epoch(args.answered_epoch)
    answered_time_s = _seconds(args.answered_time)
    if answered_s is not None:
        return "answered", _floor(end_s - answered_s), "hook", ()
    if dial == DIAL_ANSWERED:
        if answered_time_s is None:
            return "answered", 0, "hint", ("DIALSTATUS is ANSWER but ANSWEREDTIME is empty: talk time recorded as 0",)
        return (
            "answered",
            answered_time_s,
            "hint",
            (
                "talk time from Dial()'s ANSWEREDTIME, the caller channel's up time: it includes anything played "
                "after an earlier Answer() (use Dial()'s U(pbxsms-answered) for the exact time)",
            ),
        )
    if answered_time_s is not None and queue_sets_answered_time(args.asterisk_version):
        # Dial() clears ANSWEREDTIME too and sets it only when answered: without DIALSTATUS ANSWER it is Queue()'s.
        if answered_time_s > 0:
            return "answered", answered_time_s, "hook", ()
        if not args.member_interface and queue not in QUEUE_ANSWERED:
            return "no_answer", 0, "hook", ()
    if args.member_interface or queue in QUEUE_ANSWERED:
        return (
            "answered",
            0,
            "hint",
            (
                "a queue member answered but the answer time is unknown: talk time recorded as 0 "
                "(set membergosub = pbxsms-answered in queues.conf)",
            ),
        )
    if dial in DIAL_UNANSWERED or queue:
        return "no_answer", 0, "hook", ()
    if dial in DIAL_BUSY:
        return "busy", 0, "hook", ()
    if dial:
        return "failed", 0, "hook", ()
    cause_status = status_of_hangup_cause(args.hangup_cause)
    if cause_status is not None:
        return cause_status, 0, "hint", ()
    return (
        "no_answer",
        0,
        "hint",
        (
            "no Dial() or Queue() result on the caller's channel: recorded as no_answer "
            "(a queue call a member answered looks the same before Asterisk 22.9 unless queues.conf sets "
            "setinterfacevar or membergosub = pbxsms-answered)",
        ),
    )


def call_parties(
    args: HookArguments, direction: Direction, country: str, internal_max_digits: int
) -> tuple[Direction, str | None, str, tuple[str, ...]]:
    """(direction, company number, other party, notes). Both parties short extensions → internal."""
    other = classify_party(args.other_party or UNKNOWN_CALLER, country, internal_max_digits)
    # The company's own side of the call: the dialled DID (in), or the calling phone (out).
    company_side = args.did if direction == "in" else args.channel_caller
    company_party: Party | None = classify_party(company_side, country, internal_max_digits) if company_side else None
    both_internal = other.kind == "internal" and (company_party is None or company_party.kind == "internal")
    if direction == "internal" or both_internal:
        return "internal", None, other.raw, ()
    number, notes = _company_number(args.did, country)
    return direction, number, other.display, notes


def _company_number(did: str, country: str) -> tuple[str | None, tuple[str, ...]]:
    if not did:
        return None, ("PBXSMS_DID is empty: the call has no company number",)
    e164 = normalise(did, country)
    if e164 is not None:
        return e164, ()
    if len(did) <= MAX_NUMBER_CHARS:
        return did, (f"PBXSMS_DID {did!r} is not a valid phone number: kept as it is",)
    return None, (f"PBXSMS_DID {did[:MAX_NUMBER_CHARS]!r}... is not a phone number: the call has no company number",)


def _epoch(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def _seconds(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return _floor(value) if math.isfinite(value) else None


def _floor(seconds: float) -> int:
    return max(0, math.floor(seconds))


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(math.floor(epoch_s), tz=UTC)
