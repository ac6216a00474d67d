"""What the call tracker remembers about one call (one Linkedid) while it is in progress.

Plain mutable records, no logic beyond bookkeeping: the tracker fills them from AMI events,
the classifier (pbx_sms.ami.classify) reads them once the call is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pbx_sms.core.asterisk import UNKNOWN_CALLER

# Caller ID values Asterisk uses as a placeholder before the real one is known.
PLACEHOLDER_IDS = frozenset({"", UNKNOWN_CALLER})
# Extensions that carry no dialled number ("s" = start, used by Originate and PJSIP endpoints).
PLACEHOLDER_EXTENS = frozenset({"", "s"})


@dataclass(slots=True)
class ChannelState:
    """One channel (one Uniqueid) of a call."""

    uniqueid: str
    name: str
    created_at_s: float
    # The first real dialplan location and caller ID the channel showed: where the call entered
    # the PBX and who placed it (later events may show values the dialplan rewrote).
    context: str = ""
    exten: str = ""
    caller_num: str = ""
    # The caller ID the channel shows last (an outbound route may set the company number here).
    last_caller_num: str = ""
    was_up: bool = False
    # Rung by a Dial/Queue/Originate: its answering is a callee's, not the PBX taking the call.
    dial_destination: bool = False
    bridge_id: str | None = None
    hung_up_at_s: float | None = None
    hangup_cause: str = ""
    # Up when the AMI connection was lost and not heard of since: it may have hung up unseen.
    stale: bool = False

    @property
    def hung_up(self) -> bool:
        return self.hung_up_at_s is not None

    def note_location(self, context: str, exten: str) -> None:
        if not self.exten and exten not in PLACEHOLDER_EXTENS:
            self.context = context
            self.exten = exten

    def note_caller(self, caller_num: str) -> None:
        if caller_num in PLACEHOLDER_IDS:
            return
        if not self.caller_num:
            self.caller_num = caller_num
        self.last_caller_num = caller_num


@dataclass(slots=True)
class CdrRecord:
    """The part of a Cdr event the classifier may fall back on.

    Its local times (no zone) are only ever subtracted from each other: a span needs no zone.
    """

    uniqueid: str
    disposition: str
    destination_channel: str
    billable_s: int
    linkedid: str = ""
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    started_at: datetime | None = None


@dataclass(slots=True)
class CallState:
    """Everything known about one Linkedid so far."""

    linkedid: str
    opened_now_s: float
    started_at_s: float
    channels: dict[str, ChannelState] = field(default_factory=dict)
    direction_var: str = ""
    did_var: str = ""
    # PBXSMS_OTHER: the caller (in) or the number dialled without any trunk prefix (out).
    other_var: str = ""
    # Outcomes of dial attempts made by a caller channel (not Originate-level), each once, in order.
    dial_statuses: list[str] = field(default_factory=list)
    dialled_legs: set[str] = field(default_factory=set)
    ended_legs: set[str] = field(default_factory=set)
    # The moment a person answered (DialEnd ANSWER / AgentConnect) and who did.
    person_answer_at_s: float | None = None
    answered_legs: set[str] = field(default_factory=set)
    # Periods in which two parties of this call were bridged together.
    connected_since_s: float | None = None
    first_connected_at_s: float | None = None
    last_disconnected_at_s: float | None = None
    cdrs: list[CdrRecord] = field(default_factory=list)
    ended_at_s: float | None = None
    # Set (in tracker clock) once every channel has hung up: emit after this deadline.
    emit_deadline_s: float | None = None
    # False when the call was first heard of after it began (the listener started or reconnected
    # meanwhile); True when it spanned a lost AMI connection.  Together they make its evidence.
    seen_from_start: bool = True
    spans_gap: bool = False
    # Legs beyond max_channels_per_call were seen (and not tracked): logged once per call.
    over_leg_limit: bool = False
    # Channels not hung up, kept as a count so that a hang-up costs the same with 20,000 legs as with 2:
    # channels are added, moved and hung up only through the methods below.
    open_channels: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.open_channels = sum(1 for channel in self.channels.values() if not channel.hung_up)

    def add(self, channel: ChannelState) -> None:
        self.channels[channel.uniqueid] = channel
        self.open_channels += not channel.hung_up

    def remove(self, channel: ChannelState) -> None:
        del self.channels[channel.uniqueid]
        self.open_channels -= not channel.hung_up

    def hang_up(self, channel: ChannelState, at_s: float) -> None:
        """The channel (one of this call's) hung up at ``at_s``; the first hang-up counts."""
        if channel.hung_up_at_s is None:
            channel.hung_up_at_s = at_s
            self.open_channels -= 1

    @property
    def fully_seen(self) -> bool:
        return self.seen_from_start and not self.spans_gap

    @property
    def finished(self) -> bool:
        """Every channel gone.  A call not fully seen may have channels never heard of (or gone
        unseen): its own first channel (Uniqueid = Linkedid) hanging up, or that channel's Cdr,
        says it is over; a leg hanging up while the caller still waits (a queue) does not."""
        if self.fully_seen:
            return self.open_channels == 0
        if any(not channel.hung_up and not channel.stale for channel in self.channels.values()):
            return False
        origin = self.channels.get(self.linkedid)
        return (origin is not None and origin.hung_up) or any(cdr.uniqueid == self.linkedid for cdr in self.cdrs)

    def origin(self) -> ChannelState | None:
        """The channel that started the call: the one whose Uniqueid is the Linkedid, else the oldest."""
        channel = self.channels.get(self.linkedid)
        if channel is not None:
            return channel
        if not self.channels:
            return None
        return min(self.channels.values(), key=lambda c: (c.created_at_s, c.uniqueid))
