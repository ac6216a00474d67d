"""The calls in progress and how their channels, bridges and CDRs hang together (pure bookkeeping).

Channels are grouped by Linkedid; Cdr events (which carry only a UniqueID) are attached through the
channel they name, or wait a while for a channel not announced yet.  Bridges tell whether two parties
of a call are talking.  The tracker (pbx_sms.ami.tracker) reads events into this registry and decides
when a call is complete; the registry only keeps the state consistent.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field

from pbx_sms.ami.call_state import CallState, CdrRecord, ChannelState
from pbx_sms.ami.parser import AmiMessage

log = logging.getLogger(__name__)

_MAX_IGNORED_CALLS_REMEMBERED = 1000

CHANNEL_STATE_UP = "6"
DIRECTION_VAR = "PBXSMS_DIRECTION"
DID_VAR = "PBXSMS_DID"
OTHER_VAR = "PBXSMS_OTHER"
# Asterisk publishes Cdr and channel events on different paths: a Cdr of a very short leg can
# arrive before that leg's Newchannel.  Such a Cdr waits this long (tracker time) for its channel.
EARLY_CDR_WAIT_S = 5.0
MAX_EARLY_CDRS = 1_000


@dataclass(slots=True)
class TrackerStats:
    completed: int = 0
    dropped: int = 0
    orphan_cdrs: int = 0
    unknown_channel_events: int = 0
    malformed_events: int = 0


@dataclass(slots=True)
class Bridge:
    members: set[str] = field(default_factory=set)
    # Parking lots and holding bridges: channels wait side by side without talking.
    holding: bool = False


class CallRegistry:
    """Open calls by Linkedid (insertion order = age order: the first is the oldest), with the
    indexes the event handlers need, and the deadlines at which finished calls are due."""

    def __init__(self, cdr_grace_s: float, stats: TrackerStats) -> None:
        self.cdr_grace_s = cdr_grace_s
        self.stats = stats
        self.calls: dict[str, CallState] = {}
        self.call_of_channel: dict[str, str] = {}
        self.bridges: dict[str, Bridge] = {}
        # (deadline in tracker time, sequence, Linkedid): a heap; stale entries are skipped.
        self.deadlines: list[tuple[float, int, str]] = []
        # UniqueID -> (tracker time received, Cdrs) for Cdrs whose channel is not known yet.
        self.early_cdrs: dict[str, tuple[float, list[CdrRecord]]] = {}
        # Calls whose events are ignored because they began before we listened: logged once each.
        self._ignored_calls: dict[str, None] = {}
        self._sequence = 0
        # The latest tracker time seen (set by the tracker): when a moved channel leaves its call finished.
        self.now_s = 0.0

    # ---- calls and channels -----------------------------------------------------------------

    def open_call(self, linkedid: str, now_s: float, event_s: float) -> CallState:
        call = CallState(linkedid=linkedid, opened_now_s=now_s, started_at_s=event_s)
        self.calls[linkedid] = call
        return call

    def channel_from(self, message: AmiMessage, event_s: float) -> tuple[CallState, ChannelState] | None:
        """The call and channel an event's channel snapshot names, updated from the snapshot."""
        uniqueid = message.get("Uniqueid")
        if not uniqueid:
            self.stats.malformed_events += 1
            return None
        linkedid = message.get("Linkedid")
        current = self.call_of_channel.get(uniqueid)
        if current is None:
            # A channel whose Newchannel we missed joins its call if we know the call; events of
            # calls that began before we were listening are ignored (never emitted half-known).
            call = self.calls.get(linkedid) if linkedid else None
            if call is None:
                self.ignore_unknown(linkedid or uniqueid)
                return None
            channel = self.add_channel(call, uniqueid, message.get("Channel"), event_s)
        else:
            call = self.calls[current]
            channel = call.channels[uniqueid]
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

    def known_channel(self, uniqueid: str) -> ChannelState | None:
        linkedid = self.call_of_channel.get(uniqueid) if uniqueid else None
        return self.calls[linkedid].channels.get(uniqueid) if linkedid else None

    def add_channel(self, call: CallState, uniqueid: str, name: str, event_s: float) -> ChannelState:
        channel = ChannelState(uniqueid=uniqueid, name=name, created_at_s=event_s)
        call.channels[uniqueid] = channel
        self.call_of_channel[uniqueid] = call.linkedid
        call.started_at_s = min(call.started_at_s, event_s)
        early = self.early_cdrs.pop(uniqueid, None)
        if early is not None:
            call.cdrs.extend(early[1])
        if call.emit_deadline_s is not None:
            call.emit_deadline_s = None  # a new leg: the call goes on
        return channel

    def ignore_unknown(self, linkedid: str) -> None:
        self.stats.unknown_channel_events += 1
        if linkedid in self._ignored_calls:
            return
        if len(self._ignored_calls) >= _MAX_IGNORED_CALLS_REMEMBERED:
            self._ignored_calls.pop(next(iter(self._ignored_calls)))
        self._ignored_calls[linkedid] = None
        log.info("call %s: began before this listener saw it (restart or reconnect); ignored, not texted", linkedid)

    def _move_channel(self, channel: ChannelState, source: CallState, target: CallState) -> CallState:
        del source.channels[channel.uniqueid]
        target.channels[channel.uniqueid] = channel
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

    def clear(self) -> None:
        self.calls.clear()
        self.call_of_channel.clear()
        self.bridges.clear()
        self.deadlines.clear()
        self.early_cdrs.clear()

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

    def add_cdr(self, record: CdrRecord, now_s: float) -> None:
        linkedid = self.call_of_channel.get(record.uniqueid)
        if linkedid is not None:
            self.calls[linkedid].cdrs.append(record)
            return
        # Not known (yet): the channel's Newchannel may still be on its way.  If not, its call was
        # already emitted (grace too short for batch-mode CDRs) or began before we listened.
        if record.uniqueid not in self.early_cdrs and len(self.early_cdrs) >= MAX_EARLY_CDRS:
            oldest = next(iter(self.early_cdrs))
            self.stats.orphan_cdrs += len(self.early_cdrs.pop(oldest)[1])
        self.early_cdrs.setdefault(record.uniqueid, (now_s, []))[1].append(record)

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
