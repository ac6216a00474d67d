"""The calls in progress and how their channels, bridges and CDRs hang together (pure bookkeeping).

Channels are grouped by Linkedid; Cdr events are attached to the call their LinkedID names (with the
cdr_manager mapping) or through the channel their UniqueID names, or wait a while for a channel not
announced yet.  Bridges tell whether two parties
of a call are talking.  The tracker (pbx_sms.ami.tracker) reads events into this registry and decides
when a call is complete; the registry only keeps the state consistent.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pbx_sms.ami.call_state import CallState, CdrRecord, ChannelState
from pbx_sms.ami.parser import AmiMessage
from pbx_sms.core.asterisk import DIAL_ANSWERED

log = logging.getLogger(__name__)

_MAX_CLOSED_CALLS_REMEMBERED = 10_000

CHANNEL_STATE_UP = "6"
DIRECTION_VAR = "PBXSMS_DIRECTION"
DID_VAR = "PBXSMS_DID"
OTHER_VAR = "PBXSMS_OTHER"
# Asterisk publishes Cdr and channel events on different paths: a Cdr of a very short leg can
# arrive before that leg's Newchannel.  Such a Cdr waits this long (tracker time) for its channel.
EARLY_CDR_WAIT_S = 5.0
MAX_EARLY_CDRS = 1_000
# Asterisk has a dozen DialStatus values.
MAX_DIAL_STATUSES = 32


@dataclass(slots=True)
class TrackerStats:
    completed: int = 0
    # Of the completed calls: partly seen (a gap), known only from Cdrs and late events.
    completed_gap: int = 0
    completed_cdr: int = 0
    dropped: int = 0
    orphan_cdrs: int = 0
    unknown_channel_events: int = 0
    malformed_events: int = 0
    # Events of legs beyond max_channels_per_call, and Cdrs beyond it, not used.
    untracked_leg_events: int = 0


@dataclass(slots=True)
class Bridge:
    members: set[str] = field(default_factory=set)
    # Parking lots and holding bridges: channels wait side by side without talking.
    holding: bool = False


class CallRegistry:
    """Open calls by Linkedid (insertion order = age order: the first is the oldest), with the
    indexes the event handlers need, and the deadlines at which finished calls are due."""

    def __init__(
        self, cdr_grace_s: float, stats: TrackerStats, make_room: Callable[[], None], max_channels_per_call: int
    ) -> None:
        self.cdr_grace_s = cdr_grace_s
        self.max_channels_per_call = max_channels_per_call
        self.stats = stats
        # Called before a call is opened, to keep the number of open calls bounded.
        self._make_room = make_room
        self.calls: dict[str, CallState] = {}
        self.call_of_channel: dict[str, str] = {}
        self.bridges: dict[str, Bridge] = {}
        # (deadline in tracker time, sequence, Linkedid): a heap; stale entries are skipped.
        self.deadlines: list[tuple[float, int, str]] = []
        # UniqueID -> (tracker time received, Cdrs) for Cdrs whose channel is not known yet.
        self.early_cdrs: dict[str, tuple[float, list[CdrRecord]]] = {}
        # Calls emitted or dropped lately: their late events must not open them again.
        self._closed_calls: dict[str, None] = {}
        self._sequence = 0
        # The latest tracker time seen (set by the tracker): when a moved channel leaves its call finished.
        self.now_s = 0.0
        # The latest event time seen, and its value when the connection was lost.
        self.last_event_s = 0.0
        self.lost_at_s = 0.0
        # Uniqueids named by the CoreShowChannels list being received after a reconnect.
        self.listed_channels: set[str] = set()

    # ---- calls and channels -----------------------------------------------------------------

    def open_call(self, linkedid: str, now_s: float, event_s: float, *, seen_from_start: bool = True) -> CallState:
        self._make_room()
        call = CallState(linkedid=linkedid, opened_now_s=now_s, started_at_s=event_s, seen_from_start=seen_from_start)
        self.calls[linkedid] = call
        return call

    def call_heard_of_late(self, linkedid: str, event_s: float) -> CallState | None:
        """The call a mid-call event names, opened if new: it began before we listened (a daemon
        restart, a reconnect) and is completed from what is still to come.  None for a call
        already emitted or dropped, whose late events must not bring it back."""
        call = self.calls.get(linkedid)
        if call is not None:
            return call
        if linkedid in self._closed_calls:
            self.stats.unknown_channel_events += 1
            return None
        return self.open_call(linkedid, self.now_s, event_s, seen_from_start=False)

    def channel_from(self, message: AmiMessage, event_s: float) -> tuple[CallState, ChannelState] | None:
        """The call and channel an event's channel snapshot names, updated from the snapshot."""
        uniqueid = message.get("Uniqueid")
        if not uniqueid:
            self.stats.malformed_events += 1
            return None
        linkedid = message.get("Linkedid")
        current = self.call_of_channel.get(uniqueid)
        if current is None:
            # A channel whose Newchannel we missed joins its call, known or heard of only now.
            call = self.call_heard_of_late(linkedid or uniqueid, event_s)
            if call is None or not self.has_room(call, uniqueid):
                return None
            channel = self.add_channel(call, uniqueid, message.get("Channel"), event_s)
        else:
            call = self.calls[current]
            channel = call.channels[uniqueid]
            if channel.stale:
                channel.stale = False
                if not channel.hung_up:
                    call.emit_deadline_s = None  # still there after the gap: the call goes on
            if linkedid and linkedid != current and linkedid in self.calls:
                # Bridging channels of two calls gives them all the oldest Linkedid (transfers,
                # pickups): the channel now belongs to that call.
                call = self._move_channel(channel, call, self.calls[linkedid])
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
        if not call.other_var:
            call.other_var = message.chan_vars.get(OTHER_VAR, "").strip()
        return call, channel

    def has_room(self, call: CallState, uniqueid: str) -> bool:
        """Whether a channel new to ``call`` may be tracked: not beyond max_channels_per_call.  The
        events of a leg beyond it are not used (counted; logged once per call)."""
        if len(call.channels) < self.max_channels_per_call:
            return True
        self.stats.untracked_leg_events += 1
        if not call.over_leg_limit:
            call.over_leg_limit = True
            log.warning(
                "call %s: legs beyond max_channels_per_call=%d are not tracked (from channel %s on); the call "
                "is classified from its caller's events and the legs tracked",
                call.linkedid,
                self.max_channels_per_call,
                uniqueid[:64],
            )
        return False

    def may_note_leg(self, call: CallState, legs: set[str], uniqueid: str) -> bool:
        """Whether a dialled leg may be added to one of the call's sets of legs: not one beyond the
        bound, and the set itself bounded (DialBegins naming legs never announced)."""
        limit = self.max_channels_per_call
        return uniqueid in call.channels or (len(call.channels) < limit and len(legs) < limit)

    def note_dial_end(self, call: CallState, raw_status: str, dest_uniqueid: str, event_s: float) -> None:
        """A dial attempt by one of the call's channels ended (DialEnd): ANSWER is a person answering."""
        status = raw_status.strip().upper()
        if dest_uniqueid and self.may_note_leg(call, call.ended_legs, dest_uniqueid):
            call.ended_legs.add(dest_uniqueid)
        # Only which statuses were seen matters; a stream may invent any number of them.
        if status and status not in call.dial_statuses and len(call.dial_statuses) < MAX_DIAL_STATUSES:
            call.dial_statuses.append(status)
        if status == DIAL_ANSWERED:
            if call.person_answer_at_s is None or event_s < call.person_answer_at_s:
                call.person_answer_at_s = event_s
            if dest_uniqueid and self.may_note_leg(call, call.answered_legs, dest_uniqueid):
                call.answered_legs.add(dest_uniqueid)

    def known_channel(self, uniqueid: str) -> ChannelState | None:
        linkedid = self.call_of_channel.get(uniqueid) if uniqueid else None
        return self.calls[linkedid].channels.get(uniqueid) if linkedid else None

    def add_channel(self, call: CallState, uniqueid: str, name: str, event_s: float) -> ChannelState:
        channel = ChannelState(uniqueid=uniqueid, name=name, created_at_s=event_s)
        call.add(channel)
        self.call_of_channel[uniqueid] = call.linkedid
        call.started_at_s = min(call.started_at_s, event_s)
        early = self.early_cdrs.pop(uniqueid, None)
        if early is not None:
            call.cdrs.extend(early[1])
        if call.emit_deadline_s is not None:
            call.emit_deadline_s = None  # a new leg: the call goes on
        return channel

    def close(self, call: CallState) -> None:
        """Forget a call emitted or dropped, and remember it was: its late events stay ignored."""
        self.forget(call)
        if len(self._closed_calls) >= _MAX_CLOSED_CALLS_REMEMBERED:
            self._closed_calls.pop(next(iter(self._closed_calls)))
        self._closed_calls[call.linkedid] = None

    def connection_lost(self) -> None:
        """Events are being lost from now on: every open call spans a gap, every live channel may
        hang up unseen."""
        self.lost_at_s = self.last_event_s
        self.listed_channels.clear()
        for call in self.calls.values():
            call.spans_gap = True
            for channel in call.channels.values():
                if not channel.hung_up:
                    channel.stale = True

    def _move_channel(self, channel: ChannelState, source: CallState, target: CallState) -> CallState:
        source.remove(channel)
        target.add(channel)
        self.call_of_channel[channel.uniqueid] = target.linkedid
        for legs_attr in ("dialled_legs", "ended_legs", "answered_legs"):
            legs: set[str] = getattr(source, legs_attr)
            if channel.uniqueid in legs:
                getattr(target, legs_attr).add(channel.uniqueid)
        if not channel.hung_up:
            target.emit_deadline_s = None
        if not source.channels:
            del self.calls[source.linkedid]
        elif source.open_channels == 0 and source.emit_deadline_s is None:
            self.schedule(source, self.now_s + self.cdr_grace_s)
        return target

    def forget(self, call: CallState) -> None:
        self.calls.pop(call.linkedid, None)
        for uniqueid, channel in call.channels.items():
            if self.call_of_channel.get(uniqueid) == call.linkedid:
                del self.call_of_channel[uniqueid]
            if channel.bridge_id is not None:
                bridge = self.bridges.get(channel.bridge_id)
                if bridge is not None:
                    bridge.members.discard(uniqueid)
                    if not bridge.members:
                        del self.bridges[channel.bridge_id]

    def channels_listed(self) -> list[CallState]:
        """The end of a CoreShowChannels list: a channel of a gap call missing from it hung up in the
        gap (dated to the loss); returns the calls that may be over now."""
        touched: list[CallState] = []
        for call in self.calls.values():
            gone = [c for c in call.channels.values() if c.stale and c.uniqueid not in self.listed_channels]
            for channel in gone:
                channel.stale = False
                self.leave_bridge(channel, self.lost_at_s)
                call.hang_up(channel, self.lost_at_s)
            if gone:
                call.ended_at_s = max(call.ended_at_s or self.lost_at_s, self.lost_at_s)
                touched.append(call)
        self.listed_channels.clear()
        return touched

    # ---- bridges ----------------------------------------------------------------------------

    def enter_bridge(self, channel: ChannelState, bridge_id: str, holding: bool, event_s: float, relinks: bool) -> None:
        """``relinks``: a basic bridge, where Asterisk gives every member the oldest Linkedid."""
        self.leave_bridge(channel, event_s)
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            bridge = self.bridges[bridge_id] = Bridge(holding=holding)
        bridge.members.add(channel.uniqueid)
        channel.bridge_id = bridge_id
        calls_before = {self.call_of_channel[u] for u in bridge.members if u in self.call_of_channel}
        if relinks and len(calls_before) > 1:
            self._relink_to_oldest_call(bridge.members, calls_before)
        self._update_connected_calls(calls_before, event_s)

    def _relink_to_oldest_call(self, uniqueids: set[str], linkedids: set[str]) -> None:
        # What bridge_basic_push does at once (ast_bridge_channel_update_linkedids) shows in the moved
        # channel's events only later: without this, the younger call (an attended transfer's
        # consultation) would count the moved channel's talk with the older call as its own.
        oldest = min((self.calls[linkedid] for linkedid in linkedids), key=lambda c: (c.started_at_s, c.linkedid))
        for uniqueid in uniqueids:
            linkedid = self.call_of_channel.get(uniqueid)
            if linkedid is not None and linkedid != oldest.linkedid:
                source = self.calls[linkedid]
                self._move_channel(source.channels[uniqueid], source, oldest)

    def leave_bridge(self, channel: ChannelState, event_s: float) -> None:
        if channel.bridge_id is None:
            return
        bridge_id, channel.bridge_id = channel.bridge_id, None
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            return
        bridge.members.discard(channel.uniqueid)
        if not bridge.members:
            # Forget it now rather than on BridgeDestroy, which a lost event may never bring.
            del self.bridges[bridge_id]
        self._update_connected({*bridge.members, channel.uniqueid}, event_s)

    def destroy_bridge(self, bridge_id: str, event_s: float) -> None:
        bridge = self.bridges.pop(bridge_id, None)
        if bridge is not None:
            for uniqueid in bridge.members:
                channel = self.known_channel(uniqueid)
                if channel is not None:
                    channel.bridge_id = None
            self._update_connected(bridge.members, event_s)

    def _update_connected(self, uniqueids: set[str], event_s: float) -> None:
        """Re-evaluate, for the calls these channels belong to, whether two parties are bridged."""
        self._update_connected_calls({self.call_of_channel[u] for u in uniqueids if u in self.call_of_channel}, event_s)

    def _update_connected_calls(self, linkedids: set[str], event_s: float) -> None:
        for linkedid in linkedids:
            call = self.calls.get(linkedid)
            if call is None:
                continue  # its last channel moved to another call
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
        bridge = self.bridges.get(channel.bridge_id)
        return bridge is not None and not bridge.holding and len(bridge.members) >= 2

    # ---- CDRs -------------------------------------------------------------------------------

    def add_cdr(self, record: CdrRecord, now_s: float, event_s: float) -> CallState | None:
        """Attach a Cdr to its call (the one it names, else its channel's); the call, when known."""
        linkedid = self.call_of_channel.get(record.uniqueid)
        if linkedid is not None:
            self._attach_cdr(self.calls[linkedid], record)
            return self.calls[linkedid]
        if record.linkedid:
            # Mapped LinkedID: the Cdr names its call even when none of its channel events was seen.
            call = self.call_heard_of_late(record.linkedid, event_s)
            if call is not None:
                self._attach_cdr(call, record)
            return call
        # Not known (yet): the channel's Newchannel may still be on its way.  If not, its call was
        # already emitted (grace too short for batch-mode CDRs) or ended before we listened.
        if record.uniqueid not in self.early_cdrs and len(self.early_cdrs) >= MAX_EARLY_CDRS:
            oldest = next(iter(self.early_cdrs))
            self.stats.orphan_cdrs += len(self.early_cdrs.pop(oldest)[1])
        self.early_cdrs.setdefault(record.uniqueid, (now_s, []))[1].append(record)
        return None

    def _attach_cdr(self, call: CallState, record: CdrRecord) -> None:
        if len(call.cdrs) < self.max_channels_per_call:
            call.cdrs.append(record)
        else:
            self.stats.untracked_leg_events += 1

    def expire_early_cdrs(self, now_s: float) -> None:
        while self.early_cdrs:
            uniqueid, (received_s, records) = next(iter(self.early_cdrs.items()))
            if received_s + EARLY_CDR_WAIT_S > now_s:
                break
            del self.early_cdrs[uniqueid]
            self.stats.orphan_cdrs += len(records)

    def drop_early_cdrs(self) -> None:
        """End of input: the Cdrs still waiting will never find their channel."""
        self.stats.orphan_cdrs += sum(len(records) for _, records in self.early_cdrs.values())
        self.early_cdrs.clear()

    # ---- deadlines --------------------------------------------------------------------------

    def schedule(self, call: CallState, deadline_s: float) -> None:
        call.emit_deadline_s = deadline_s
        self._sequence += 1
        heapq.heappush(self.deadlines, (deadline_s, self._sequence, call.linkedid))
