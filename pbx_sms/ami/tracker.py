"""Call tracker: AMI events in, one CompletedCall per finished Linkedid out (pure, no I/O).

Channels are grouped by Linkedid; Cdr events (which carry only a UniqueID) are attached through
the channel they name.  When the last channel of a call has hung up, the call waits ``cdr_grace_s``
for late Cdr events and is then classified (pbx_sms.ami.classify) and emitted exactly once.

Two clocks: *event time* (the ``Timestamp`` header, else the time of receipt) dates the call;
*tracker time* (the ``now_s`` the driver passes in: the wall clock live, event time in a replay)
runs the grace period and the age limit, so a skewed Asterisk clock cannot hold a call back.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pbx_sms.ami.call_state import CallState, CdrRecord, ChannelState
from pbx_sms.ami.classify import classify_call
from pbx_sms.ami.parser import AmiMessage
from pbx_sms.core.asterisk import DIAL_ANSWERED
from pbx_sms.core.call import CompletedCall

log = logging.getLogger(__name__)

_MAX_IGNORED_CALLS_REMEMBERED = 1000

# Every event the tracker reads.  All of them reach a read=call,cdr user, so a read=all user feeds
# the tracker exactly the same events.  (AgentConnect needs the agent class; it never says more
# than the queue's DialEnd ANSWER to the member, which comes first.)
WANTED_EVENTS: frozenset[str] = frozenset(
    {
        "Newchannel",
        "NewCallerid",
        "Newstate",
        "DialBegin",
        "DialEnd",
        "BridgeEnter",
        "BridgeLeave",
        "BridgeDestroy",
        "Hangup",
        "Cdr",
    }
)
CHANNEL_STATE_UP = "6"
DIRECTION_VAR = "PBXSMS_DIRECTION"
DID_VAR = "PBXSMS_DID"
# Asterisk publishes Cdr and channel events on different paths: a Cdr of a very short leg can
# arrive before that leg's Newchannel.  Such a Cdr waits this long (tracker time) for its channel.
EARLY_CDR_WAIT_S = 5.0
MAX_EARLY_CDRS = 1_000
# Bridges where channels wait side by side without talking (parking lots, holding bridges).
HOLDING_BRIDGE_TYPES = frozenset({"holding", "parking"})
HOLDING_BRIDGE_TECHNOLOGIES = frozenset({"holding_bridge"})


@dataclass(frozen=True)
class TrackerConfig:
    cdr_grace_s: float = 0.5
    inbound_contexts: tuple[str, ...] = ("from-trunk", "from-pstn")
    outbound_contexts: tuple[str, ...] = ("from-internal",)
    internal_max_digits: int = 5
    country: str = "PL"
    max_open_calls: int = 10_000
    max_call_age_s: float = 6 * 3600

    @classmethod
    def from_settings(cls, settings: Any) -> TrackerConfig:
        tracking = settings.tracking
        return cls(
            cdr_grace_s=tracking.cdr_grace_s,
            inbound_contexts=tuple(tracking.inbound_contexts),
            outbound_contexts=tuple(tracking.outbound_contexts),
            internal_max_digits=tracking.internal_max_digits,
            country=settings.country,
            max_open_calls=tracking.max_open_calls,
            max_call_age_s=tracking.max_call_age_s,
        )


@dataclass(slots=True)
class _Bridge:
    members: set[str] = field(default_factory=set)
    holding: bool = False


@dataclass(slots=True)
class TrackerStats:
    completed: int = 0
    dropped: int = 0
    orphan_cdrs: int = 0
    unknown_channel_events: int = 0
    malformed_events: int = 0


def timestamp_s(message: AmiMessage) -> float | None:
    """The event's own Timestamp header (epoch seconds), or None when missing or unusable."""
    raw = message.fields.get("Timestamp", "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def event_time_s(message: AmiMessage, now_s: float) -> float:
    """When the event happened: its Timestamp when usable, else ``now_s`` (the time of receipt)."""
    value = timestamp_s(message)
    return now_s if value is None else value


class CallTracker:
    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.stats = TrackerStats()
        # Insertion order = age order: the first call is the oldest (eviction, age limit).
        self._calls: dict[str, CallState] = {}
        # Calls whose events are ignored because they began before we listened: logged once each.
        self._ignored_calls: dict[str, None] = {}
        self._call_of_channel: dict[str, str] = {}
        self._bridges: dict[str, _Bridge] = {}
        self._deadlines: list[tuple[float, int, str]] = []
        # UniqueID -> (tracker time received, Cdrs) for Cdrs whose channel is not known yet.
        self._early_cdrs: dict[str, tuple[float, list[CdrRecord]]] = {}
        self._sequence = 0
        self._now_s = 0.0
        self._handlers: dict[str, Callable[[AmiMessage, float, float], list[CompletedCall]]] = {
            "Newchannel": self._on_newchannel,
            "NewCallerid": self._on_channel_update,
            "Newstate": self._on_channel_update,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "Hangup": self._on_hangup,
            "Cdr": self._on_cdr,
        }

    # ---- counters -------------------------------------------------------------------------

    @property
    def open_calls(self) -> int:
        return len(self._calls)

    @property
    def completed(self) -> int:
        return self.stats.completed

    @property
    def dropped(self) -> int:
        return self.stats.dropped

    @property
    def tracked_channels(self) -> int:
        return len(self._call_of_channel)

    @property
    def tracked_bridges(self) -> int:
        return len(self._bridges)

    @property
    def waiting_cdrs(self) -> int:
        return len(self._early_cdrs)

    # ---- public API -----------------------------------------------------------------------

    def feed(self, message: AmiMessage, now_s: float) -> list[CompletedCall]:
        """Apply one AMI message received at ``now_s``; returns the calls completed by then."""
        completed = self.tick(now_s)
        handler = self._handlers.get(message.event or "")
        if handler is not None:
            completed.extend(handler(message, event_time_s(message, now_s), now_s))
        return completed

    def tick(self, now_s: float) -> list[CompletedCall]:
        """Emit the calls whose grace period has passed; drop calls older than the age limit."""
        self._now_s = max(self._now_s, now_s)
        completed: list[CompletedCall] = []
        while self._deadlines and self._deadlines[0][0] <= now_s:
            deadline_s, _, linkedid = heapq.heappop(self._deadlines)
            call = self._calls.get(linkedid)
            if call is not None and call.emit_deadline_s == deadline_s:
                completed.append(self._emit(call))
        self._drop_aged(now_s)
        self._expire_early_cdrs(now_s)
        return completed

    def next_deadline_s(self) -> float | None:
        """When tick() next has work to do, or None while nothing is pending."""
        while self._deadlines:
            deadline_s, _, linkedid = self._deadlines[0]
            call = self._calls.get(linkedid)
            if call is not None and call.emit_deadline_s == deadline_s:
                break
            heapq.heappop(self._deadlines)
        if self._deadlines:
            # The age limit of the oldest call (open or not) bounds that of the oldest open one; when
            # the grace deadline comes first, skip the search past calls waiting for their grace,
            # which would cost O(calls completing) on every event of a busy stream.
            oldest = next(iter(self._calls.values()))
            if self._deadlines[0][0] <= oldest.opened_now_s + self.config.max_call_age_s:
                return self._deadlines[0][0]
        candidates = [self._deadlines[0][0]] if self._deadlines else []
        oldest_open = next((c for c in self._calls.values() if c.emit_deadline_s is None), None)
        if oldest_open is not None:
            candidates.append(oldest_open.opened_now_s + self.config.max_call_age_s)
        return min(candidates) if candidates else None

    def flush(self) -> list[CompletedCall]:
        """End of input: emit every call whose channels all hung up now; drop the others."""
        finished = sorted(
            (call for call in self._calls.values() if call.emit_deadline_s is not None),
            key=lambda call: (call.ended_at_s or call.started_at_s, call.linkedid),
        )
        completed = [self._emit(call) for call in finished]
        unfinished = list(self._calls.values())
        if unfinished:
            log.warning(
                "dropping %d calls still in progress at the end of the input (call ids %s)",
                len(unfinished),
                ", ".join(call.linkedid for call in unfinished[:10]) + (" ..." if len(unfinished) > 10 else ""),
            )
            for call in unfinished:
                self._forget(call)
            self.stats.dropped += len(unfinished)
        self._deadlines.clear()
        self.stats.orphan_cdrs += sum(len(records) for _, records in self._early_cdrs.values())
        self._early_cdrs.clear()
        return completed

    def drop_all(self, reason: str) -> int:
        """Forget every open call without emitting it (connection lost, Asterisk restarted)."""
        count = len(self._calls)
        if count:
            log.warning("discarding %d calls in progress: %s", count, reason)
        self._calls.clear()
        self._call_of_channel.clear()
        self._bridges.clear()
        self._deadlines.clear()
        self._early_cdrs.clear()
        self.stats.dropped += count
        return count

    # ---- event handlers -------------------------------------------------------------------

    def _on_newchannel(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        uniqueid = message.get("Uniqueid")
        if not uniqueid:
            self.stats.malformed_events += 1
            return []
        completed: list[CompletedCall] = []
        if uniqueid not in self._call_of_channel:
            linkedid = message.get("Linkedid") or uniqueid
            call = self._calls.get(linkedid)
            if call is None and linkedid != uniqueid:
                # A new leg of a call that began before we were listening (or before drop_all):
                # following it would emit that call half-known.
                self._ignore_unknown(linkedid)
                return []
            if call is None:
                completed.extend(self._make_room())
                call = CallState(linkedid=linkedid, opened_now_s=now_s, started_at_s=event_s)
                self._calls[linkedid] = call
            self._add_channel(call, uniqueid, message.get("Channel"), event_s)
        self._on_channel_update(message, event_s, now_s)
        return completed

    def _on_channel_update(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        self._channel_from(message, event_s)
        return []

    def _on_dial_begin(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        dest_uniqueid = message.get("DestUniqueid")
        dest = self._known_channel(dest_uniqueid)
        if dest is not None:
            dest.dial_destination = True
        if not message.get("Uniqueid"):
            return []  # Originate-level dial: no caller channel, nobody of the call rings yet
        found = self._channel_from(message, event_s)
        if found is not None and dest_uniqueid:
            found[0].dialled_legs.add(dest_uniqueid)
        return []

    def _on_dial_end(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        if not message.get("Uniqueid"):
            return []  # Originate-level result: says whether the originated channel answered, not a person
        found = self._channel_from(message, event_s)
        if found is None:
            return []
        call = found[0]
        status = message.get("DialStatus").strip().upper()
        dest_uniqueid = message.get("DestUniqueid")
        if dest_uniqueid:
            call.ended_legs.add(dest_uniqueid)
        if status:
            call.dial_statuses.append(status)
        if status == DIAL_ANSWERED:
            self._person_answered(call, dest_uniqueid, event_s)
        return []

    def _on_bridge_enter(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        bridge_id = message.get("BridgeUniqueid")
        found = self._channel_from(message, event_s)
        if not bridge_id or found is None:
            return []
        _, channel = found
        self._leave_bridge(channel, event_s)
        bridge = self._bridges.get(bridge_id)
        if bridge is None:
            holding = (
                message.get("BridgeType").lower() in HOLDING_BRIDGE_TYPES
                or message.get("BridgeTechnology").lower() in HOLDING_BRIDGE_TECHNOLOGIES
            )
            bridge = self._bridges[bridge_id] = _Bridge(holding=holding)
        bridge.members.add(channel.uniqueid)
        channel.bridge_id = bridge_id
        self._update_connected(bridge.members, event_s)
        return []

    def _on_bridge_leave(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        found = self._channel_from(message, event_s)
        if found is not None:
            self._leave_bridge(found[1], event_s)
        return []

    def _on_bridge_destroy(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        bridge = self._bridges.pop(message.get("BridgeUniqueid"), None)
        if bridge is not None:
            for uniqueid in bridge.members:
                channel = self._known_channel(uniqueid)
                if channel is not None:
                    channel.bridge_id = None
            self._update_connected(bridge.members, event_s)
        return []

    def _on_hangup(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        found = self._channel_from(message, event_s)
        if found is None:
            return []
        call, channel = found
        if channel.hung_up_at_s is None:
            channel.hung_up_at_s = event_s
            channel.hangup_cause = message.get("Cause").strip()
        self._leave_bridge(channel, event_s)
        call.ended_at_s = max(call.ended_at_s or event_s, event_s)
        if call.open_channels == 0:
            self._schedule(call, now_s + self.config.cdr_grace_s)
        return []

    def _on_cdr(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        uniqueid = message.get("UniqueID") or message.get("Uniqueid")
        if not uniqueid:
            self.stats.malformed_events += 1
            return []
        record = CdrRecord(
            uniqueid=uniqueid,
            disposition=message.get("Disposition").strip().upper(),
            destination_channel=message.get("DestinationChannel").strip(),
            billable_s=_int_or_zero(message.get("BillableSeconds")),
        )
        linkedid = self._call_of_channel.get(uniqueid)
        if linkedid is not None:
            self._calls[linkedid].cdrs.append(record)
            return []
        # Not known (yet): the channel's Newchannel may still be on its way.  If not, its call was
        # already emitted (grace too short for batch-mode CDRs) or began before we listened.
        if uniqueid not in self._early_cdrs and len(self._early_cdrs) >= MAX_EARLY_CDRS:
            oldest = next(iter(self._early_cdrs))
            self.stats.orphan_cdrs += len(self._early_cdrs.pop(oldest)[1])
        self._early_cdrs.setdefault(uniqueid, (now_s, []))[1].append(record)
        return []

    # ---- bookkeeping ----------------------------------------------------------------------

    def _ignore_unknown(self, linkedid: str) -> None:
        self.stats.unknown_channel_events += 1
        if linkedid in self._ignored_calls:
            return
        if len(self._ignored_calls) >= _MAX_IGNORED_CALLS_REMEMBERED:
            self._ignored_calls.pop(next(iter(self._ignored_calls)))
        self._ignored_calls[linkedid] = None
        log.info("call %s: began before this listener saw it (restart or reconnect); ignored, not texted", linkedid)

    def _channel_from(self, message: AmiMessage, event_s: float) -> tuple[CallState, ChannelState] | None:
        """The call and channel an event's channel snapshot names, updated from the snapshot."""
        uniqueid = message.get("Uniqueid")
        if not uniqueid:
            self.stats.malformed_events += 1
            return None
        linkedid = message.get("Linkedid")
        current = self._call_of_channel.get(uniqueid)
        if current is None:
            # A channel whose Newchannel we missed joins its call if we know the call; events of
            # calls that began before we were listening are ignored (never emitted half-known).
            call = self._calls.get(linkedid) if linkedid else None
            if call is None:
                self._ignore_unknown(linkedid or uniqueid)
                return None
            channel = self._add_channel(call, uniqueid, message.get("Channel"), event_s)
        else:
            call = self._calls[current]
            channel = call.channels[uniqueid]
            if linkedid and linkedid != current and linkedid in self._calls:
                # Bridging channels of two calls gives them all the oldest Linkedid (transfers,
                # pickups): the channel now belongs to that call.
                call = self._move_channel(channel, call, self._calls[linkedid])
        channel.note_location(message.get("Context"), message.get("Exten"))
        channel.note_caller(message.get("CallerIDNum").strip())
        if message.get("ChannelState") == CHANNEL_STATE_UP:
            channel.was_up = True
        # The first value set wins: a later leg (a forward to an outside number through the
        # outbound route) may set its own, but the call stays what it was when it came in.
        if not call.direction_var:
            call.direction_var = message.chan_vars.get(DIRECTION_VAR, "").strip()
        if not call.did_var:
            call.did_var = message.chan_vars.get(DID_VAR, "").strip()
        return call, channel

    def _known_channel(self, uniqueid: str) -> ChannelState | None:
        linkedid = self._call_of_channel.get(uniqueid) if uniqueid else None
        return self._calls[linkedid].channels.get(uniqueid) if linkedid else None

    def _add_channel(self, call: CallState, uniqueid: str, name: str, event_s: float) -> ChannelState:
        channel = ChannelState(uniqueid=uniqueid, name=name, created_at_s=event_s)
        call.channels[uniqueid] = channel
        self._call_of_channel[uniqueid] = call.linkedid
        call.started_at_s = min(call.started_at_s, event_s)
        early = self._early_cdrs.pop(uniqueid, None)
        if early is not None:
            call.cdrs.extend(early[1])
        if call.emit_deadline_s is not None:
            call.emit_deadline_s = None  # a new leg: the call goes on
        return channel

    def _move_channel(self, channel: ChannelState, source: CallState, target: CallState) -> CallState:
        del source.channels[channel.uniqueid]
        target.channels[channel.uniqueid] = channel
        self._call_of_channel[channel.uniqueid] = target.linkedid
        for legs_attr in ("dialled_legs", "ended_legs", "answered_legs"):
            legs: set[str] = getattr(source, legs_attr)
            if channel.uniqueid in legs:
                getattr(target, legs_attr).add(channel.uniqueid)
        if not channel.hung_up:
            target.emit_deadline_s = None
        if not source.channels:
            del self._calls[source.linkedid]
        elif source.open_channels == 0 and source.emit_deadline_s is None:
            self._schedule(source, self._now_s + self.config.cdr_grace_s)
        return target

    def _person_answered(self, call: CallState, dest_uniqueid: str, event_s: float) -> None:
        if call.person_answer_at_s is None or event_s < call.person_answer_at_s:
            call.person_answer_at_s = event_s
        if dest_uniqueid:
            call.answered_legs.add(dest_uniqueid)

    def _leave_bridge(self, channel: ChannelState, event_s: float) -> None:
        if channel.bridge_id is None:
            return
        bridge_id, channel.bridge_id = channel.bridge_id, None
        bridge = self._bridges.get(bridge_id)
        if bridge is None:
            return
        bridge.members.discard(channel.uniqueid)
        if not bridge.members:
            # Forget it now rather than on BridgeDestroy, which a lost event may never bring.
            del self._bridges[bridge_id]
        self._update_connected({*bridge.members, channel.uniqueid}, event_s)

    def _update_connected(self, uniqueids: set[str], event_s: float) -> None:
        """Re-evaluate, for the calls these channels belong to, whether two parties are bridged."""
        linkedids = {self._call_of_channel[u] for u in uniqueids if u in self._call_of_channel}
        for linkedid in linkedids:
            call = self._calls[linkedid]
            connected = any(self._in_talking_bridge(channel) for channel in call.channels.values())
            if connected and call.connected_since_s is None:
                call.connected_since_s = event_s
                if call.first_connected_at_s is None:
                    call.first_connected_at_s = event_s
            elif not connected and call.connected_since_s is not None:
                call.connected_since_s = None
                call.last_disconnected_at_s = event_s

    def _in_talking_bridge(self, channel: ChannelState) -> bool:
        if channel.bridge_id is None or channel.hung_up:
            return False
        bridge = self._bridges.get(channel.bridge_id)
        return bridge is not None and not bridge.holding and len(bridge.members) >= 2

    def _schedule(self, call: CallState, deadline_s: float) -> None:
        call.emit_deadline_s = deadline_s
        self._sequence += 1
        heapq.heappush(self._deadlines, (deadline_s, self._sequence, call.linkedid))

    def _emit(self, call: CallState) -> CompletedCall:
        self._forget(call)
        completed = classify_call(call, self.config)
        self.stats.completed += 1
        return completed

    def _forget(self, call: CallState) -> None:
        self._calls.pop(call.linkedid, None)
        for uniqueid, channel in call.channels.items():
            if self._call_of_channel.get(uniqueid) == call.linkedid:
                del self._call_of_channel[uniqueid]
            if channel.bridge_id is not None:
                bridge = self._bridges.get(channel.bridge_id)
                if bridge is not None:
                    bridge.members.discard(uniqueid)
                    if not bridge.members:
                        del self._bridges[channel.bridge_id]

    def _make_room(self) -> list[CompletedCall]:
        """Keep at most max_open_calls: a finished call waiting for its grace is emitted early,
        an unfinished one (a lost Hangup) dropped."""
        completed: list[CompletedCall] = []
        while len(self._calls) >= self.config.max_open_calls:
            oldest = next(iter(self._calls.values()))
            if oldest.emit_deadline_s is not None:
                completed.append(self._emit(oldest))
                continue
            log.warning(
                "too many open calls (max_open_calls=%d): dropping the oldest, call id %s",
                self.config.max_open_calls,
                oldest.linkedid,
            )
            self._forget(oldest)
            self.stats.dropped += 1
        return completed

    def _expire_early_cdrs(self, now_s: float) -> None:
        while self._early_cdrs:
            uniqueid, (received_s, records) = next(iter(self._early_cdrs.items()))
            if received_s + EARLY_CDR_WAIT_S > now_s:
                break
            del self._early_cdrs[uniqueid]
            self.stats.orphan_cdrs += len(records)

    def _drop_aged(self, now_s: float) -> None:
        limit_s = now_s - self.config.max_call_age_s
        aged: list[CallState] = []
        for call in self._calls.values():
            if call.opened_now_s > limit_s:
                break
            if call.emit_deadline_s is None:  # a finished call is emitted when its grace ends
                aged.append(call)
        for call in aged:
            log.warning(
                "dropping call %s: still open after %.0f s (a lost Hangup?)", call.linkedid, self.config.max_call_age_s
            )
            self._forget(call)
            self.stats.dropped += 1


def _int_or_zero(raw: str) -> int:
    try:
        return max(0, int(raw.strip()))
    except ValueError:
        return 0
