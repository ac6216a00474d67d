"""Hand-built AMI event sequences for the call tracker's tests: a fake PBX writing one call at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.tracker import CallTracker, TrackerConfig
from pbx_sms.core.call import CompletedCall

T0 = 1_795_000_000.0
IN_VARS = {"PBXSMS_DIRECTION": "in", "PBXSMS_DID": "+48221234567"}
OUT_VARS = {"PBXSMS_DIRECTION": "out", "PBXSMS_DID": "+48221234567"}


@dataclass
class Chan:
    name: str
    uniqueid: str
    linkedid: str
    context: str = "default"
    exten: str = "s"
    caller: str = "<unknown>"
    state: str = "4"
    chan_vars: dict[str, str] = field(default_factory=dict)

    def snapshot(self, prefix: str = "") -> dict[str, str]:
        return {
            f"{prefix}Channel": self.name,
            f"{prefix}ChannelState": self.state,
            f"{prefix}CallerIDNum": self.caller,
            f"{prefix}Context": self.context,
            f"{prefix}Exten": self.exten,
            f"{prefix}Uniqueid": self.uniqueid,
            f"{prefix}Linkedid": self.linkedid,
        }


def event(name: str, at_s: float | None, fields: dict[str, str], chan_vars: dict[str, str] | None = None) -> AmiMessage:
    all_fields = {"Event": name, "Privilege": "call,all"}
    if at_s is not None:
        all_fields["Timestamp"] = f"{at_s:.6f}"
    all_fields.update(fields)
    return AmiMessage(all_fields, dict(chan_vars or {}))


class Pbx:
    """Writes the AMI events Asterisk would send, one call at a time, with event times."""

    def __init__(self, with_timestamps: bool = True, first_sequence: int = 1) -> None:
        self.events: list[AmiMessage] = []
        self.with_timestamps = with_timestamps
        self._next_id = first_sequence - 1

    def _ev(self, name: str, at_s: float, fields: dict[str, str], chan: Chan | None = None) -> None:
        stamp = T0 + at_s if self.with_timestamps else None
        self.events.append(event(name, stamp, fields, chan.chan_vars if chan else None))

    def new(self, at_s: float, name: str, linkedid: str | None = None, **attrs: str) -> Chan:
        self._next_id += 1
        uniqueid = f"{int(T0)}.{self._next_id}"
        chan = Chan(name=name, uniqueid=uniqueid, linkedid=linkedid or uniqueid, **attrs)
        self._ev("Newchannel", at_s, chan.snapshot(), chan)
        return chan

    def set_vars(self, at_s: float, chan: Chan, chan_vars: dict[str, str]) -> None:
        chan.chan_vars = dict(chan_vars)
        self._ev("NewCallerid", at_s, chan.snapshot(), chan)

    def state(self, at_s: float, chan: Chan, state: str) -> None:
        chan.state = state
        self._ev("Newstate", at_s, chan.snapshot(), chan)

    def dial_begin(self, at_s: float, caller: Chan | None, dest: Chan) -> None:
        fields = {**(caller.snapshot() if caller else {}), **dest.snapshot("Dest"), "DialString": dest.exten}
        self._ev("DialBegin", at_s, fields, caller)

    def dial_end(self, at_s: float, caller: Chan | None, dest: Chan, status: str) -> None:
        fields = {**(caller.snapshot() if caller else {}), **dest.snapshot("Dest"), "DialStatus": status}
        self._ev("DialEnd", at_s, fields, caller)

    def bridge(self, at_s: float, bridge_id: str, *chans: Chan, enter: bool = True, kind: str = "basic") -> None:
        for chan in chans:
            fields = {"BridgeUniqueid": bridge_id, "BridgeType": kind, **chan.snapshot()}
            self._ev("BridgeEnter" if enter else "BridgeLeave", at_s, fields, chan)

    def hangup(self, at_s: float, chan: Chan, cause: str = "16") -> None:
        self._ev("Hangup", at_s, {**chan.snapshot(), "Cause": cause}, chan)

    def cdr(
        self,
        at_s: float,
        chan: Chan,
        disposition: str,
        destination: str = "",
        billable_s: int = 0,
        *,
        with_linkedid: bool = False,
        answered_s: float | None = None,
        started_s: float = 0,
    ) -> None:
        fields = {
            "Channel": chan.name,
            "DestinationChannel": destination,
            "Disposition": disposition,
            "BillableSeconds": str(billable_s),
            "Duration": str(int(at_s - started_s)),
            "Source": chan.caller,
            "Destination": chan.exten,
            "DestinationContext": chan.context,
            "StartTime": local_time(started_s),
            "AnswerTime": "" if answered_s is None else local_time(answered_s),
            "EndTime": local_time(at_s),
            "UniqueID": chan.uniqueid,
        }
        if with_linkedid:
            fields["LinkedID"] = chan.linkedid
        self._ev("Cdr", at_s, fields)

    # ---- whole scenarios ----

    def sip_inbound(self, at_s: float, caller: str = "+48601234567", **attrs: str) -> tuple[Chan, Chan]:
        trunk = self.new(at_s, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller=caller, **attrs)
        self.set_vars(at_s + 0.01, trunk, IN_VARS)
        phone = self.new(at_s + 0.02, "PJSIP/201-02", trunk.linkedid, context="from-internal", caller="201")
        phone.chan_vars = dict(IN_VARS)
        self.dial_begin(at_s + 0.03, trunk, phone)
        return trunk, phone


def local_time(offset_s: float) -> str:
    """A Cdr time: the PBX's wall clock without a zone (here two hours ahead of UTC)."""
    return datetime.fromtimestamp(int(T0 + offset_s) + 7200, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def run(events: list[AmiMessage], config: TrackerConfig | None = None) -> list[CompletedCall]:
    """Feed on event time (as replay does) and flush at the end."""
    tracker = CallTracker(config or TrackerConfig())
    calls: list[CompletedCall] = []
    now_s = 0.0
    for message in events:
        stamp = message.fields.get("Timestamp")
        now_s = max(now_s, float(stamp)) if stamp else now_s
        calls.extend(tracker.feed(message, now_s))
    calls.extend(tracker.flush())
    return calls


def only(calls: list[CompletedCall]) -> CompletedCall:
    assert len(calls) == 1, calls
    return calls[0]


def at(offset_s: float) -> datetime:
    return datetime.fromtimestamp(int(T0 + offset_s), tz=UTC)
