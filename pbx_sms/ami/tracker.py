"""Call tracker: AMI events in, one CompletedCall per finished Linkedid out (pure, no I/O).

Each event is read into the registry of calls in progress (pbx_sms.ami.call_registry: channels grouped
by Linkedid, Cdrs attached through the call or channel they name).  When the last channel of a call has
hung up, the call waits ``cdr_grace_s`` for late Cdr events and is then classified (pbx_sms.ami.classify)
and emitted exactly once.

A lost AMI connection does not end calls: they are kept, marked as spanning a gap, and completed from
the events still to come (and, when the user may send it, the CoreShowChannels list after the
reconnect).  A call first heard of mid-way (the listener started after it began) is followed from
there on; one known only from its Cdrs (mapped LinkedID) is completed from them.  Each call's
``evidence`` says which.  Only an Asterisk restart, recognised from the Uniqueid numbering starting
again (pbx_sms.ami.restart), ends calls unseen: those are dropped, each logged.

Two clocks: *event time* (the ``Timestamp`` header, else the time of receipt) dates the call;
*tracker time* (the ``now_s`` the driver passes in: the wall clock live, event time in a replay)
runs the grace period and the age limit, so a skewed Asterisk clock cannot hold a call back.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable

from pbx_sms.ami.call_registry import CallRegistry, TrackerStats
from pbx_sms.ami.call_state import CallState
from pbx_sms.ami.cdr import cdr_record, clock_duration_s, seconds_or_zero
from pbx_sms.ami.classify import classify_call
from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.restart import RestartDetector
from pbx_sms.ami.tracker_config import EventClock
from pbx_sms.ami.tracker_config import TrackerConfig as TrackerConfig
from pbx_sms.ami.tracker_config import timestamp_s as timestamp_s
from pbx_sms.core.call import CompletedCall

log = logging.getLogger(__name__)

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
        # The reply to CoreShowChannels, sent after a (re)connect when the user may (write class
        # reporting): the channels alive now, so those of gap calls that hung up unseen are known.
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    }
)
# Bridges where channels wait side by side without talking (parking lots, holding bridges).
HOLDING_BRIDGE_TYPES = frozenset({"holding", "parking"})
HOLDING_BRIDGE_TECHNOLOGIES = frozenset({"holding_bridge"})
# The bridge type in which Asterisk relinks every member to the oldest Linkedid (main/bridge_basic.c).
BASIC_BRIDGE_TYPE = "basic"


class CallTracker:
    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.stats = TrackerStats()
        self._registry = registry = CallRegistry(
            config.cdr_grace_s, self.stats, self._make_room, config.max_channels_per_call
        )
        self._restarts = RestartDetector()
        # Calls emitted early to make room for a new one, handed out by the event that opened it.
        self._made_room: list[CompletedCall] = []
        self._event_clock = EventClock()
        # Read on every event, so bound once (the registry empties these containers, never replaces them).
        self._calls = registry.calls
        self._deadlines = registry.deadlines
        self._channel_from = registry.channel_from
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
            "CoreShowChannel": self._on_channel_listed,
            "CoreShowChannelsComplete": self._on_channels_listed,
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
    def bad_timestamps(self) -> int:
        """Events dated at their receipt because their Timestamp was absurd."""
        return self._event_clock.refused

    @property
    def tracked_channels(self) -> int:
        return len(self._registry.call_of_channel)

    @property
    def tracked_bridges(self) -> int:
        return len(self._registry.bridges)

    @property
    def waiting_cdrs(self) -> int:
        return len(self._registry.early_cdrs)

    # ---- public API -----------------------------------------------------------------------

    def feed(self, message: AmiMessage, now_s: float) -> list[CompletedCall]:
        """Apply one AMI message received at ``now_s``; returns the calls completed by then."""
        completed = self.tick(now_s)
        handler = self._handlers.get(message.event or "")
        if handler is not None:
            event_s = self._event_clock.event_time_s(message, now_s)
            self._registry.last_event_s = max(self._registry.last_event_s, event_s)
            completed.extend(handler(message, event_s, now_s))
            if self._made_room:
                completed.extend(self._made_room)
                self._made_room.clear()
        return completed

    def tick(self, now_s: float) -> list[CompletedCall]:
        """Emit the calls whose grace period has passed; drop calls older than the age limit."""
        registry = self._registry
        registry.now_s = max(registry.now_s, now_s)
        completed: list[CompletedCall] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now_s:
            deadline_s, _, linkedid = heapq.heappop(deadlines)
            call = self._calls.get(linkedid)
            if call is not None and call.emit_deadline_s == deadline_s:
                completed.append(self._emit(call))
        self._drop_aged(now_s)
        registry.expire_early_cdrs(now_s)
        return completed

    def next_deadline_s(self) -> float | None:
        """When tick() next has work to do, or None while nothing is pending."""
        deadlines = self._deadlines
        while deadlines:
            deadline_s, _, linkedid = deadlines[0]
            call = self._calls.get(linkedid)
            if call is not None and call.emit_deadline_s == deadline_s:
                break
            heapq.heappop(deadlines)
        if deadlines:
            # The age limit of the oldest call (open or not) bounds that of the oldest open one; when
            # the grace deadline comes first, skip the search past calls waiting for their grace,
            # which would cost O(calls completing) on every event of a busy stream.
            oldest = next(iter(self._calls.values()))
            if deadlines[0][0] <= oldest.opened_now_s + self.config.max_call_age_s:
                return deadlines[0][0]
        candidates = [deadlines[0][0]] if deadlines else []
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
                self._registry.close(call)
            self.stats.dropped += len(unfinished)
        self._deadlines.clear()
        self._registry.drop_early_cdrs()
        return completed

    def connection_lost(self) -> None:
        """The AMI connection is down: open calls are kept (a reconnect does not end them) and
        completed from the events still to come, marked as having spanned a gap."""
        self._registry.connection_lost()
        self._restarts.connection_lost()

    # ---- event handlers -------------------------------------------------------------------

    def _on_newchannel(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        uniqueid = message.get("Uniqueid")
        if not uniqueid:
            self.stats.malformed_events += 1
            return []
        completed: list[CompletedCall] = []
        registry = self._registry
        if uniqueid not in registry.call_of_channel:
            if self._restarts.new_channel(uniqueid):
                completed.extend(self._asterisk_restarted(uniqueid))
            linkedid = message.get("Linkedid") or uniqueid
            if linkedid == uniqueid and linkedid not in self._calls:
                call: CallState | None = registry.open_call(linkedid, now_s, event_s)
            else:
                # A new leg of a call that began before we listened is followed from here on.
                call = registry.call_heard_of_late(linkedid, event_s)
            if call is None or not registry.has_room(call, uniqueid):
                return completed
            registry.add_channel(call, uniqueid, message.get("Channel"), event_s)
        self._channel_from(message, event_s)
        return completed

    def _on_channel_update(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        self._channel_from(message, event_s)
        return []

    def _on_dial_begin(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        dest_uniqueid = message.get("DestUniqueid")
        dest = self._registry.known_channel(dest_uniqueid)
        if dest is not None:
            dest.dial_destination = True
        if not message.get("Uniqueid"):
            return []  # Originate-level dial: no caller channel, nobody of the call rings yet
        found = self._channel_from(message, event_s)
        if found is not None and dest_uniqueid:
            call = found[0]
            if self._registry.may_note_leg(call, call.dialled_legs, dest_uniqueid):
                call.dialled_legs.add(dest_uniqueid)
        return []

    def _on_dial_end(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        if not message.get("Uniqueid"):
            return []  # Originate-level result: says whether the originated channel answered, not a person
        found = self._channel_from(message, event_s)
        if found is None:
            return []
        self._registry.note_dial_end(found[0], message.get("DialStatus"), message.get("DestUniqueid"), event_s)
        return []

    def _on_bridge_enter(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        bridge_id = message.get("BridgeUniqueid")
        found = self._channel_from(message, event_s)
        if not bridge_id or found is None:
            return []
        holding = (
            message.get("BridgeType").lower() in HOLDING_BRIDGE_TYPES
            or message.get("BridgeTechnology").lower() in HOLDING_BRIDGE_TECHNOLOGIES
        )
        relinks = message.get("BridgeType").lower() == BASIC_BRIDGE_TYPE
        self._registry.enter_bridge(found[1], bridge_id, holding, event_s, relinks)
        return []

    def _on_bridge_leave(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        found = self._channel_from(message, event_s)
        if found is not None:
            self._registry.leave_bridge(found[1], event_s)
        return []

    def _on_bridge_destroy(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        self._registry.destroy_bridge(message.get("BridgeUniqueid"), event_s)
        return []

    def _on_hangup(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        found = self._channel_from(message, event_s)
        if found is None:
            return []
        call, channel = found
        if not channel.hung_up:
            call.hang_up(channel, event_s)
            channel.hangup_cause = message.get("Cause").strip()
        self._registry.leave_bridge(channel, event_s)
        call.ended_at_s = max(call.ended_at_s or event_s, event_s)
        self._schedule_if_finished(call, now_s)
        return []

    def _on_cdr(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        record = cdr_record(message)
        if record is None:
            self.stats.malformed_events += 1
            return []
        call = self._registry.add_cdr(record, now_s, event_s)
        if call is None or call.fully_seen:
            return []
        if record.uniqueid == call.linkedid and record.uniqueid not in call.channels:
            # The call's own first channel, never seen: its Cdr says who called whom, and when.
            started_s = event_s - seconds_or_zero(message.get("Duration"))
            channel = self._registry.add_channel(call, record.uniqueid, message.get("Channel"), started_s)
            channel.note_location(message.get("DestinationContext"), message.get("Destination"))
            channel.note_caller(message.get("Source").strip())
            call.hang_up(channel, event_s)
            call.ended_at_s = max(call.ended_at_s or event_s, event_s)
        if call.emit_deadline_s is None:
            self._schedule_if_finished(call, now_s)
        return []

    def _on_channel_listed(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        # A channel heard of first here was created Duration (HH:MM:SS) ago.
        if self._channel_from(message, event_s - clock_duration_s(message.get("Duration"))) is not None:
            self._registry.listed_channels.add(message.get("Uniqueid"))
        return []

    def _on_channels_listed(self, message: AmiMessage, event_s: float, now_s: float) -> list[CompletedCall]:
        for call in self._registry.channels_listed():
            if call.emit_deadline_s is None:
                self._schedule_if_finished(call, now_s)
        return []

    def _schedule_if_finished(self, call: CallState, now_s: float) -> None:
        if call.finished:
            self._registry.schedule(call, now_s + self.config.cdr_grace_s)

    def _asterisk_restarted(self, uniqueid: str) -> list[CompletedCall]:
        """Asterisk started again: the channels of its old calls are gone and their Cdrs may
        never come.  Calls already over are emitted; the others dropped, each logged."""
        completed: list[CompletedCall] = []
        for call in list(self._calls.values()):
            if call.emit_deadline_s is not None:
                completed.append(self._emit(call))
                continue
            log.warning(
                "call %s: Asterisk restarted (new channel %s numbered from the start again); "
                "its channels are gone: dropped, not texted",
                call.linkedid,
                uniqueid,
            )
            self._registry.close(call)
            self.stats.dropped += 1
        return completed

    # ---- emission and limits --------------------------------------------------------------

    def _emit(self, call: CallState) -> CompletedCall:
        self._registry.close(call)
        completed = classify_call(call, self.config)
        self.stats.completed += 1
        self.stats.completed_gap += completed.evidence == "gap"
        self.stats.completed_cdr += completed.evidence == "cdr"
        return completed

    def _make_room(self) -> None:
        """Keep at most max_open_calls: a finished call waiting for its grace is emitted early,
        an unfinished one (a lost Hangup) dropped."""
        while len(self._calls) >= self.config.max_open_calls:
            oldest = next(iter(self._calls.values()))
            if oldest.emit_deadline_s is not None:
                self._made_room.append(self._emit(oldest))
                continue
            log.warning(
                "too many open calls (max_open_calls=%d): dropping the oldest, call id %s",
                self.config.max_open_calls,
                oldest.linkedid,
            )
            self._registry.close(oldest)
            self.stats.dropped += 1

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
            self._registry.close(call)
            self.stats.dropped += 1
