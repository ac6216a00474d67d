"""The tracker across gaps: a lost connection, calls first heard of mid-way, Cdr-only calls,
CoreShowChannels after a reconnect, an Asterisk restart, and every single drop point of the busy hour."""

from __future__ import annotations

import logging

import pytest
from drop_replay import calls_ending_after, recording_messages, replay_with_drop, resume_index, same_call
from paths import FIXTURES
from tracker_world import IN_VARS, T0, Pbx, at, event, only, run

from pbx_sms.ami.tracker import CallTracker, TrackerConfig


def answered_inbound(pbx: Pbx) -> tuple[int, list[str]]:
    """A call answered at 1 s, talking until 5 s; returns where its answer starts and its channels."""
    trunk, phone = pbx.sip_inbound(0)
    answer_from = len(pbx.events)
    pbx.dial_end(1, trunk, phone, "ANSWER")
    pbx.bridge(1, "b1", trunk, phone)
    pbx.bridge(5, "b1", phone, trunk, enter=False)
    pbx.hangup(5, phone)
    pbx.cdr(5, trunk, "ANSWERED", destination=phone.name, billable_s=4, answered_s=1)
    pbx.hangup(5, trunk)
    return answer_from, [trunk.linkedid, phone.uniqueid]


def test_a_call_first_heard_of_mid_way_is_completed_from_its_remaining_events() -> None:
    pbx = Pbx()
    answer_from, (linkedid, _) = answered_inbound(pbx)
    # The listener (re)started after the call began: it hears only the answer onwards.
    call = only(run(pbx.events[answer_from:]))
    assert (call.call_id, call.status, call.talk_s, call.evidence) == (linkedid, "answered", 4, "gap")
    assert (call.direction, call.number, call.other_party) == ("in", "+48221234567", "+48601234567")
    # Its start was not heard, its Cdr's span tells it: ended at 5 s, 5 s long.
    assert (call.started_at, call.ended_at) == (at(0), at(5))


def test_a_leg_hanging_up_while_the_caller_still_waits_does_not_end_a_call_heard_of_late() -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    pbx.set_vars(0, trunk, IN_VARS)
    heard_from = len(pbx.events)
    member = pbx.new(10, "PJSIP/201-02", trunk.linkedid)
    pbx.dial_begin(10, trunk, member)
    pbx.dial_end(25, trunk, member, "NOANSWER")
    pbx.hangup(25, member)
    tracker = CallTracker(TrackerConfig())
    for message in pbx.events[heard_from:]:
        assert tracker.feed(message, float(message.fields["Timestamp"])) == []
    assert tracker.tick(T0 + 60) == []  # the caller is still queued
    pbx.hangup(70, trunk)
    tracker.feed(pbx.events[-1], T0 + 70)
    call = only(tracker.tick(T0 + 71))
    assert (call.call_id, call.status, call.evidence, call.ended_at) == (trunk.linkedid, "no_answer", "gap", at(70))


def test_a_call_known_only_from_its_cdrs_with_the_linkedid_mapping() -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    phone = pbx.new(0, "PJSIP/201-02", trunk.linkedid)
    ivr_first = len(pbx.events)
    # IVR first: the caller's CDRs keep the IVR's answer at 0 s; the person answered at 20 s.
    pbx.cdr(50, phone, "ANSWERED", billable_s=30, answered_s=20, started_s=2, with_linkedid=True)
    pbx.cdr(50, trunk, "ANSWERED", destination=phone.name, billable_s=50, answered_s=0, with_linkedid=True)
    pbx.cdr(50, trunk, "ANSWERED", billable_s=50, answered_s=0, with_linkedid=True)
    call = only(run(pbx.events[ivr_first:]))
    assert (call.call_id, call.status, call.talk_s, call.evidence) == (trunk.linkedid, "answered", 30, "cdr")
    assert (call.direction, call.other_party, call.number) == ("in", "+48601234567", "+48221234567")
    assert (call.started_at, call.ended_at) == (at(0), at(50))  # from the Timestamp and Duration, not local times


def test_cdr_status_precedence_over_all_the_cdrs_of_a_call_seen_only_from_them() -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    first = len(pbx.events)
    pbx.cdr(9, trunk, "BUSY", destination="PJSIP/202-03", with_linkedid=True)
    pbx.cdr(9, trunk, "NO ANSWER", destination="PJSIP/201-02", with_linkedid=True)
    pbx.cdr(9, trunk, "ANSWERED", billable_s=9, answered_s=0, with_linkedid=True)  # the PBX: not a person
    call = only(run(pbx.events[first:]))
    assert (call.status, call.talk_s, call.evidence) == ("no_answer", 0, "cdr")


def test_late_events_of_a_call_already_emitted_do_not_open_it_again() -> None:
    pbx = Pbx()
    answered_inbound(pbx)
    trunk = pbx.events[0]
    pbx.events.append(event("Hangup", T0 + 9, {**trunk.fields, "Event": "Hangup", "Timestamp": f"{T0 + 9}"}))
    assert len(run(pbx.events)) == 1


def test_coreshowchannels_after_a_reconnect_ends_the_calls_whose_channels_went_in_the_gap() -> None:
    pbx = Pbx()
    answer_from, (linkedid, _) = answered_inbound(pbx)
    still_up = Pbx(first_sequence=50)
    other_trunk, other_phone = still_up.sip_inbound(0)
    tracker = CallTracker(TrackerConfig())
    for message in pbx.events[: answer_from + 3] + still_up.events:  # up to the BridgeEnters
        tracker.feed(message, T0 + 2)
    tracker.connection_lost()  # everything of the first call after this is lost
    listed = [
        event("CoreShowChannel", None, {"Uniqueid": c.uniqueid, "Linkedid": c.linkedid})
        for c in (other_trunk, other_phone)
    ]
    for message in [*listed, event("CoreShowChannelsComplete", None, {"ListItems": "2"})]:
        assert tracker.feed(message, T0 + 8) == []
    call = only(tracker.tick(T0 + 9))
    # Gone unseen: it ended, as far as anyone can tell, when the last event before the loss came.
    assert (call.call_id, call.status, call.evidence, call.ended_at) == (linkedid, "answered", "gap", at(1))
    assert tracker.open_calls == 1  # the other call is still up


def test_an_asterisk_restart_drops_the_calls_in_progress_and_logs_each(caplog: pytest.LogCaptureFixture) -> None:
    pbx = Pbx(first_sequence=500)
    open_trunk, _ = pbx.sip_inbound(0)
    finished = pbx.new(1, "PJSIP/trunk-09", context="from-trunk", exten="48221234567")
    pbx.hangup(2, finished)
    restarted = Pbx()  # Asterisk numbers its channels from 1 again; the old channels are never seen again
    new_trunk, new_phone = restarted.sip_inbound(30)
    restarted.hangup(40, new_phone)
    restarted.hangup(40, new_trunk)
    tracker = CallTracker(TrackerConfig(cdr_grace_s=60))
    calls = [call for message in pbx.events for call in tracker.feed(message, T0 + 2)]
    tracker.connection_lost()  # Asterisk going down closes the connection
    with caplog.at_level(logging.WARNING):
        calls += [call for message in restarted.events for call in tracker.feed(message, T0 + 40)]
    calls += tracker.tick(T0 + 100)
    assert [call.call_id for call in calls] == [finished.linkedid, new_trunk.linkedid]
    assert [r.getMessage() for r in caplog.records if "Asterisk restarted" in r.getMessage()] == [
        f"call {open_trunk.linkedid}: Asterisk restarted (new channel {new_trunk.uniqueid} numbered from the "
        "start again); its channels are gone: dropped, not texted"
    ]


@pytest.mark.parametrize("variant", ["all", "callcdr"])
def test_no_call_ending_after_the_reconnect_is_lost_whatever_the_single_drop_point(variant: str) -> None:
    messages = recording_messages(FIXTURES / f"busy_hour.{variant}.ami")
    baseline = {call.call_id: call for call in replay_with_drop(messages, None)}
    evidence_seen: set[str] = set()
    for drop_at in range(1, len(messages)):
        got = {call.call_id: call for call in replay_with_drop(messages, drop_at)}
        assert got.keys() <= baseline.keys(), drop_at  # nothing made up
        for call_id in calls_ending_after(messages, resume_index(messages, drop_at)) & baseline.keys():
            assert call_id in got, (drop_at, call_id)
            assert same_call(got[call_id], baseline[call_id]), (drop_at, got[call_id], baseline[call_id])
        evidence_seen |= {call.evidence for call in got.values()}
    assert evidence_seen == {"full", "gap"}
