"""CallTracker on hostile or broken events: absurd Timestamps, absurd durations and ids never raise;
a call with very many legs costs the same per event and is bounded."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest
from paths import FIXTURES
from tracker_world import T0, Pbx, at, event, only

from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.replay import replay_calls
from pbx_sms.ami.tracker import CallTracker, TrackerConfig
from pbx_sms.core.call import CompletedCall

YEAR_10000_S = "253402300800.000000"


def live(events: list[AmiMessage], tracker: CallTracker | None = None) -> tuple[list[CompletedCall], CallTracker]:
    """Feed as the live listener does: tracker time is the time of receipt (here the event's own
    time as the fake PBX wrote it, before a test broke the Timestamp), then tick past the grace."""
    tracker = tracker or CallTracker(TrackerConfig())
    calls: list[CompletedCall] = []
    now_s = T0
    for message in events:
        received = message.fields.pop("ReceivedAt", None) or message.fields.get("Timestamp")
        if received:
            now_s = max(now_s, float(received))
        calls.extend(tracker.feed(message, now_s))
    calls.extend(tracker.tick(now_s + 60))
    return calls, tracker


def with_timestamp(message: AmiMessage, raw: str) -> AmiMessage:
    fields = dict(message.fields)
    fields["ReceivedAt"] = fields["Timestamp"]
    fields["Timestamp"] = raw
    return replace(message, fields=fields)


def answered_call() -> Pbx:
    pbx = Pbx()
    trunk, phone = pbx.sip_inbound(0)
    pbx.dial_end(3.0, trunk, phone, "ANSWER")
    pbx.bridge(3.1, "b1", phone, trunk)
    pbx.bridge(11.9, "b1", phone, enter=False)
    pbx.hangup(11.95, phone)
    pbx.bridge(12.0, "b1", trunk, enter=False)
    pbx.hangup(12.1, trunk)
    return pbx


@pytest.mark.parametrize("raw", [YEAR_10000_S, "1e400", "inf", "nan", "-5", "0", "", str(T0 + 3 * 86_400)])
def test_an_absurd_timestamp_is_dated_at_its_receipt_and_counted(raw: str, caplog: pytest.LogCaptureFixture) -> None:
    pbx = answered_call()
    # The hang-ups carry the absurd Timestamp: the call's end, and its emission by the grace timer.
    events = [with_timestamp(m, raw) if m.event == "Hangup" else m for m in pbx.events]
    with caplog.at_level(logging.WARNING, "pbx_sms.ami.tracker"):
        calls, tracker = live(events)
    call = only(calls)
    assert (call.status, call.talk_s) == ("answered", 8)
    assert (call.started_at, call.ended_at) == (at(0), at(12.1))  # the receipt of the last Hangup
    assert tracker.bad_timestamps == 2
    assert "absurd Timestamp" in caplog.text
    assert caplog.text.count("absurd Timestamp") == 1  # one line, not one per event


def test_a_missing_timestamp_is_not_counted_as_absurd() -> None:
    pbx = Pbx(with_timestamps=False)
    trunk, phone = pbx.sip_inbound(0)
    pbx.hangup(1, phone)
    pbx.hangup(2, trunk)
    calls, tracker = live(pbx.events)
    assert len(calls) == 1
    assert tracker.bad_timestamps == 0


def test_a_timestamp_within_a_day_of_receipt_is_kept() -> None:
    pbx = answered_call()
    # Asterisk's clock an hour ahead: the call is dated by it, as before.
    events = [with_timestamp(m, f"{float(m.fields['Timestamp']) + 3600:.6f}") for m in pbx.events]
    calls, tracker = live(events)
    assert only(calls).ended_at == at(12.1 + 3600)
    assert tracker.bad_timestamps == 0


def test_absurd_cdr_durations_and_uniqueids_never_raise() -> None:
    tracker = CallTracker(TrackerConfig())
    huge = "9" * 30
    events = [
        # A call known only from its Cdr (mapped LinkedID), with a Duration of 10^30 seconds.
        event(
            "Cdr",
            T0,
            {
                "UniqueID": "1.1",
                "LinkedID": "1.1",
                "Duration": huge,
                "BillableSeconds": huge,
                "Disposition": "ANSWERED",
                "DestinationChannel": "PJSIP/201-1",
                "StartTime": "0001-01-01 00:00:00",
                "EndTime": "9999-12-31 23:59:59",
                "AnswerTime": "0001-01-01 00:00:00",
            },
        ),
        # Digits that are not ASCII, and too many of them, in a Uniqueid's sequence and a Duration.
        event("Newchannel", T0, {"Uniqueid": "1.²", "Linkedid": "1.²", "Channel": "PJSIP/x-1"}),
        event("Newchannel", T0, {"Uniqueid": "1." + "9" * 5000, "Linkedid": "1.2", "Channel": "PJSIP/x-2"}),
        event("CoreShowChannel", T0, {"Uniqueid": "1.3", "Linkedid": "1.3", "Duration": "²:" + "9" * 5000 + ":00"}),
    ]
    calls = [call for message in events for call in tracker.feed(message, T0)]
    calls.extend(tracker.tick(T0 + 60))
    calls.extend(tracker.flush())
    cdr_call = next(call for call in calls if call.call_id == "1.1")
    assert cdr_call.talk_s <= 30 * 86_400
    assert cdr_call.started_at.year > 1900


# ---- many legs ----------------------------------------------------------------------------------


def ringing_call(legs: int) -> list[AmiMessage]:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    phones = []
    for leg in range(legs):
        phone = pbx.new(1, f"PJSIP/{leg}-x", trunk.linkedid, context="from-internal", caller=str(leg))
        pbx.dial_begin(1, trunk, phone)
        phones.append(phone)
    for phone in phones:
        pbx.dial_end(30, trunk, phone, "NOANSWER")
        pbx.hangup(30, phone, "19")
    pbx.hangup(31, trunk)
    return pbx.events


def cpu_s_per_event(legs: int) -> float:
    events = ringing_call(legs)
    tracker = CallTracker(TrackerConfig())
    started = time.process_time()
    calls, _ = live(events, tracker)
    elapsed = time.process_time() - started
    assert only(calls).status == "no_answer"
    return elapsed / len(events)


def test_the_work_per_event_does_not_grow_with_the_legs_of_a_call() -> None:
    small = min(cpu_s_per_event(500) for _ in range(3))
    large = min(cpu_s_per_event(8000) for _ in range(2))
    # Quadratic work (a scan over every leg on each hang-up) made 16x the legs cost ~16x per event.
    assert large < small * 4, (small, large)


def test_legs_beyond_the_bound_are_not_tracked_and_the_call_is_still_classified(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = CallTracker(TrackerConfig(max_channels_per_call=50))
    with caplog.at_level(logging.WARNING, "pbx_sms.ami.tracker"):
        calls, _ = live(ringing_call(200), tracker)
    call = only(calls)
    assert (call.status, call.other_party, call.ended_at) == ("no_answer", "+48601234567", at(31))
    # 50 channels: the caller's and 49 legs; the other 151 legs' Newchannel and Hangup are not used.
    assert tracker.stats.untracked_leg_events == 2 * 151
    assert tracker.tracked_channels == 0
    assert caplog.text.count("legs beyond max_channels_per_call") == 1


def test_an_answer_by_a_leg_beyond_the_bound_still_makes_the_call_answered() -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    phones = [pbx.new(1, f"PJSIP/{leg}-x", trunk.linkedid, context="from-internal") for leg in range(10)]
    for phone in phones:
        pbx.dial_begin(1, trunk, phone)
    pbx.dial_end(5, trunk, phones[-1], "ANSWER")
    pbx.bridge(5, "b1", phones[-1], trunk)
    pbx.bridge(20, "b1", trunk, enter=False)
    for phone in phones:
        pbx.hangup(20, phone)
    pbx.hangup(20.5, trunk)
    calls, tracker = live(pbx.events, CallTracker(TrackerConfig(max_channels_per_call=4)))
    call = only(calls)
    assert (call.status, call.talk_s) == ("answered", 15)
    # The caller and 3 legs tracked; the other 7 legs' Newchannel and Hangup, and the answering leg's BridgeEnter.
    assert tracker.stats.untracked_leg_events == 2 * 7 + 1


def test_a_replay_with_a_year_10000_timestamp_completes_its_calls() -> None:
    data = (FIXTURES / "in_answered.callcdr.ami").read_bytes()
    # The call's last Hangup, which dates its end.
    stamp = data.index(b"Timestamp: ", data.rindex(b"Event: Hangup")) + len(b"Timestamp: ")
    broken = data[:stamp] + b"253402300800.000000" + data[data.index(b"\r\n", stamp) :]
    expected = [(c.call_id, c.status, c.talk_s) for c in replay_calls(data, TrackerConfig())]
    assert [(c.call_id, c.status, c.talk_s) for c in replay_calls(broken, TrackerConfig())] == expected
