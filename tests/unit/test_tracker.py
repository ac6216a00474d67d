"""CallTracker on hand-built event sequences: grouping, edge cases, grace timing, bounded state."""

from __future__ import annotations

import logging

import pytest
from tracker_world import OUT_VARS, T0, Chan, Pbx, at, event, only, run

from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.tracker import WANTED_EVENTS, CallTracker, TrackerConfig
from pbx_sms.config import Settings, TrackingSettings

# ---- classification over realistic sequences ------------------------------------------------


def test_answered_inbound_call_talk_runs_from_answer_to_the_callee_leaving() -> None:
    pbx = Pbx()
    trunk, phone = pbx.sip_inbound(0)
    pbx.dial_end(3.0, trunk, phone, "ANSWER")
    pbx.bridge(3.1, "b1", phone, trunk)
    pbx.bridge(11.9, "b1", phone, enter=False)  # the callee hangs up first
    pbx.hangup(11.95, phone)
    pbx.bridge(12.0, "b1", trunk, enter=False)
    pbx.hangup(12.1, trunk)
    call = only(run(pbx.events))
    assert call.call_id == trunk.linkedid
    assert (call.direction, call.number, call.other_party) == ("in", "+48221234567", "+48601234567")
    assert (call.status, call.talk_s) == ("answered", 8)  # 11.9 - 3.0 = 8.9, floored
    assert (call.started_at, call.ended_at) == (at(0), at(12.1))


def test_caller_hanging_up_first_ends_the_talk() -> None:
    pbx = Pbx()
    trunk, phone = pbx.sip_inbound(0)
    pbx.dial_end(2.0, trunk, phone, "ANSWER")
    pbx.bridge(2.0, "b1", phone, trunk)
    pbx.bridge(7.5, "b1", trunk, enter=False)
    pbx.hangup(7.5, trunk)
    pbx.bridge(7.6, "b1", phone, enter=False)
    pbx.hangup(7.7, phone)
    assert only(run(pbx.events)).talk_s == 5


def test_caller_giving_up_while_it_rings_is_no_answer() -> None:
    pbx = Pbx()
    trunk, phone = pbx.sip_inbound(0)
    pbx.state(0.5, phone, "5")
    pbx.dial_end(5.0, trunk, phone, "CANCEL")
    pbx.hangup(5.0, phone, "19")
    pbx.hangup(5.1, trunk)
    call = only(run(pbx.events))
    assert (call.status, call.talk_s) == ("no_answer", 0)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["BUSY"], "busy"),
        (["CONGESTION"], "failed"),
        (["CHANUNAVAIL"], "failed"),
        (["NOANSWER"], "no_answer"),
        (["BUSY", "CONGESTION"], "busy"),
        (["BUSY", "NOANSWER"], "no_answer"),
        (["CHANUNAVAIL", "CANCEL"], "no_answer"),
        (["NOANSWER", "ANSWER"], "answered"),
    ],
)
def test_status_over_all_legs_of_a_ring_group(statuses: list[str], expected: str) -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    phones = [pbx.new(0.1, f"PJSIP/20{i}-0{i}", trunk.linkedid) for i in range(len(statuses))]
    for phone in phones:
        pbx.dial_begin(0.2, trunk, phone)
    for phone, status in zip(phones, statuses, strict=True):
        pbx.dial_end(4.0, trunk, phone, status)
        if status == "ANSWER":
            pbx.bridge(4.0, "b1", phone, trunk)
    for phone in phones:
        pbx.hangup(9.0, phone)
    pbx.hangup(9.1, trunk)
    call = only(run(pbx.events))
    assert call.status == expected
    assert call.talk_s == (5 if expected == "answered" else 0)


def test_queue_answer_by_the_pbx_is_not_a_person_and_talk_starts_at_the_member() -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234561", caller="+48607890123")
    pbx.state(0.1, trunk, "6")  # Answer() before Queue()
    members = [pbx.new(1.0, f"PJSIP/20{i}-0{i}", trunk.linkedid) for i in (1, 3)]
    for member in members:
        pbx.dial_begin(1.0, trunk, member)
    pbx.dial_end(10.2, trunk, members[0], "ANSWER")
    pbx.dial_end(10.2, trunk, members[1], "CANCEL")
    pbx.hangup(10.2, members[1], "26")
    pbx.bridge(10.3, "b1", members[0], trunk)
    pbx.bridge(14.5, "b1", members[0], trunk, enter=False)
    pbx.hangup(14.5, members[0])
    pbx.hangup(14.6, trunk)
    call = only(run(pbx.events))
    assert (call.status, call.talk_s) == ("answered", 4)


@pytest.mark.parametrize("member_result", ["CANCEL", "BUSY", None])
def test_queue_caller_giving_up_is_no_answer_whatever_the_members_said(member_result: str | None) -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234561", caller="+48607890123")
    pbx.state(0.1, trunk, "6")
    if member_result is not None:
        member = pbx.new(1.0, "PJSIP/201-02", trunk.linkedid)
        pbx.dial_begin(1.0, trunk, member)
        pbx.dial_end(3.0 if member_result == "BUSY" else 20.0, trunk, member, member_result)
        pbx.hangup(3.0 if member_result == "BUSY" else 20.0, member, "17")
    pbx.hangup(20.0, trunk)  # the caller hangs up while waiting
    call = only(run(pbx.events))
    assert (call.status, call.talk_s) == ("no_answer", 0)


def test_originate_level_dial_without_a_caller_channel_is_not_an_outcome() -> None:
    # Click-to-call: Originate rings desk 201 (answered by its user), which then dials out: busy.
    pbx = Pbx()
    desk = pbx.new(0, "PJSIP/201-01", context="from-internal", exten="600100300", caller="201")
    pbx.dial_begin(0.0, None, desk)
    pbx.state(1.0, desk, "6")
    pbx.dial_end(1.0, None, desk, "ANSWER")
    trunk = pbx.new(1.1, "PJSIP/carrier-02", desk.linkedid)
    pbx.dial_begin(1.1, desk, trunk)
    pbx.dial_end(1.5, desk, trunk, "BUSY")
    pbx.hangup(1.5, trunk, "17")
    pbx.hangup(1.6, desk, "17")
    call = only(run(pbx.events))
    assert (call.direction, call.other_party, call.status, call.talk_s) == ("out", "+48600100300", "busy", 0)


def test_originate_level_noanswer_does_not_turn_busy_into_no_answer() -> None:
    pbx = Pbx()
    outside = pbx.new(0, "Local/48221234568@from-trunk-01;1", context="from-trunk", exten="48221234568")
    trunk = pbx.new(0, "Local/48221234568@from-trunk-01;2", outside.linkedid, context="from-trunk")
    pbx.dial_begin(0.0, None, outside)
    pbx.set_vars(0.1, outside, {"PBXSMS_DIRECTION": "", "PBXSMS_DID": ""})
    outside.caller = "+48603456789"
    pbx.set_vars(0.1, outside, {})
    phone = pbx.new(0.2, "Local/102@phones-02;1", outside.linkedid, context="phones", exten="102")
    pbx.dial_begin(0.3, trunk, phone)
    pbx.dial_end(0.4, trunk, phone, "BUSY")
    pbx.hangup(0.4, phone, "17")
    pbx.hangup(0.5, trunk, "17")
    pbx.dial_end(0.5, None, outside, "NOANSWER")
    pbx.hangup(0.5, outside)
    call = only(run(pbx.events))
    assert (call.direction, call.number, call.other_party, call.status) == (
        "in",
        "+48221234568",
        "+48603456789",
        "busy",
    )


def test_local_channel_halves_and_every_leg_make_one_call() -> None:
    pbx = Pbx()
    one = pbx.new(
        0, "Local/48221234560@from-trunk-01;1", context="from-trunk", exten="48221234560", caller="+48606789012"
    )
    two = pbx.new(0, "Local/48221234560@from-trunk-01;2", one.linkedid, context="from-trunk", exten="48221234560")
    legs = []
    for ext in ("101", "103"):
        leg_one = pbx.new(0.1, f"Local/{ext}@phones-0{ext};1", one.linkedid, context="phones", exten=ext)
        leg_two = pbx.new(0.1, f"Local/{ext}@phones-0{ext};2", one.linkedid, context="phones", exten=ext)
        pbx.dial_begin(0.2, two, leg_one)
        legs.append((leg_one, leg_two))
    pbx.dial_end(3.0, two, legs[1][0], "CANCEL")
    pbx.dial_end(3.0, two, legs[0][0], "ANSWER")
    pbx.bridge(3.0, "b1", legs[0][0], two)
    pbx.bridge(8.6, "b1", legs[0][0], two, enter=False)
    for leg_one, leg_two in legs:
        pbx.hangup(8.6, leg_one)
        pbx.hangup(8.6, leg_two)
    pbx.hangup(8.7, two)
    pbx.hangup(8.7, one)
    call = only(run(pbx.events))
    assert (call.call_id, call.direction, call.status, call.talk_s) == (one.linkedid, "in", "answered", 5)


def _caller_on_hold_while_b_consults_c(pbx: Pbx) -> tuple[Chan, Chan, Chan, Chan]:
    """B answers the caller at 2 s, then calls C from a second line (a call of its own, internal),
    C answers at 7 s: (caller, B, B's second line, C)."""
    trunk, desk_b = pbx.sip_inbound(0)
    pbx.dial_end(2.0, trunk, desk_b, "ANSWER")
    pbx.bridge(2.0, "b1", desk_b, trunk)
    consult = pbx.new(5.0, "PJSIP/201-03", context="from-internal", exten="202", caller="201")
    desk_c = pbx.new(5.1, "PJSIP/202-04", consult.linkedid, caller="202")
    pbx.dial_begin(5.1, consult, desk_c)
    pbx.dial_end(7.0, consult, desk_c, "ANSWER")
    pbx.bridge(7.0, "b2", desk_c, consult)
    return trunk, desk_b, consult, desk_c


def test_attended_transfer_moves_the_new_party_into_the_callers_call() -> None:
    pbx = Pbx()
    trunk, desk_b, consult, desk_c = _caller_on_hold_while_b_consults_c(pbx)
    # Transfer: C is swapped into the caller's bridge and takes the caller's (older) Linkedid.
    pbx.bridge(9.0, "b2", desk_c, consult, enter=False)
    desk_c.linkedid = trunk.linkedid
    pbx.bridge(9.0, "b1", desk_c)
    pbx.bridge(9.0, "b1", desk_b, enter=False)
    pbx.hangup(9.1, desk_b)
    pbx.hangup(9.1, consult)
    pbx.bridge(30.5, "b1", desk_c, trunk, enter=False)
    pbx.hangup(30.5, desk_c)
    pbx.hangup(30.6, trunk)
    calls = {call.call_id: call for call in run(pbx.events)}
    assert set(calls) == {trunk.linkedid, consult.linkedid}
    inbound = calls[trunk.linkedid]
    assert (inbound.direction, inbound.status, inbound.talk_s) == ("in", "answered", 28)
    assert inbound.ended_at == at(30.6)
    consultation = calls[consult.linkedid]
    assert (consultation.direction, consultation.number, consultation.other_party) == ("internal", None, "202")
    assert consultation.ended_at == at(9.1)


def test_attended_transfer_consultation_talk_ends_when_the_transferer_drops_out() -> None:
    # The event order of a real Asterisk 22 REFER-with-Replaces (shared_in_attended_xfer): the
    # caller joins C's bridge before any event of C shows C's new Linkedid, which only its
    # BridgeLeave at the very end carries.  (B's second line is made to drop out late here: C's
    # talk with the caller must not count for B's consultation call meanwhile.)
    pbx = Pbx()
    trunk, desk_b, consult, desk_c = _caller_on_hold_while_b_consults_c(pbx)
    pbx.bridge(12.5, "b1", trunk, enter=False)
    pbx.bridge(12.5, "b2", consult, enter=False)
    pbx.bridge(12.5, "b2", trunk)
    pbx.bridge(12.5, "b1", desk_b, enter=False)
    pbx.hangup(12.5, desk_b)
    pbx.hangup(14.0, consult)
    pbx.bridge(22.5, "b2", trunk, enter=False)
    desk_c.linkedid = trunk.linkedid
    pbx.bridge(22.5, "b2", desk_c, enter=False)
    pbx.hangup(22.5, desk_c)
    pbx.hangup(22.6, trunk)
    calls = {call.call_id: call for call in run(pbx.events)}
    consultation = calls[consult.linkedid]
    assert (consultation.status, consultation.talk_s, consultation.ended_at) == ("answered", 5, at(14.0))
    inbound = calls[trunk.linkedid]
    assert (inbound.direction, inbound.status, inbound.talk_s, inbound.ended_at) == ("in", "answered", 20, at(22.6))


def test_a_holding_bridge_does_not_take_a_channel_into_the_older_call() -> None:
    # Only a basic bridge gives its members the oldest Linkedid (bridge_basic_push).
    pbx = Pbx()
    first = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    second = pbx.new(1, "PJSIP/trunk-02", context="from-trunk", exten="48221234567", caller="+48601234568")
    pbx.bridge(2, "hold", first, second, kind="holding")
    pbx.bridge(5, "hold", first, second, enter=False, kind="holding")
    pbx.hangup(5, first)
    pbx.hangup(6, second)
    assert sorted(call.call_id for call in run(pbx.events)) == [first.linkedid, second.linkedid]


def test_blind_transfer_keeps_the_call_answered_until_the_last_party_leaves() -> None:
    pbx = Pbx()
    trunk, desk_b = pbx.sip_inbound(0)
    pbx.dial_end(1.0, trunk, desk_b, "ANSWER")
    pbx.bridge(1.0, "b1", desk_b, trunk)
    local_one = pbx.new(6.0, "Local/202@from-internal-05;1", trunk.linkedid, context="from-internal", exten="202")
    local_two = pbx.new(6.0, "Local/202@from-internal-05;2", trunk.linkedid, context="from-internal", exten="202")
    pbx.bridge(6.0, "b1", local_one)
    pbx.bridge(6.0, "b1", desk_b, enter=False)
    pbx.hangup(6.0, desk_b)
    desk_c = pbx.new(6.1, "PJSIP/202-06", trunk.linkedid)
    pbx.dial_begin(6.1, local_two, desk_c)
    pbx.dial_end(8.0, local_two, desk_c, "ANSWER")
    pbx.bridge(8.0, "b2", desk_c, local_two)
    pbx.bridge(20.0, "b2", desk_c, local_two, enter=False)
    pbx.hangup(20.0, desk_c)
    pbx.hangup(20.0, local_two)
    pbx.bridge(20.1, "b1", local_one, trunk, enter=False)
    pbx.hangup(20.1, local_one)
    pbx.hangup(20.2, trunk)
    call = only(run(pbx.events))
    assert (call.status, call.talk_s) == ("answered", 19)


def test_call_pickup_by_another_desk_phone_is_one_call_answered_by_the_picker() -> None:
    pbx = Pbx()
    trunk, desk_103 = pbx.sip_inbound(0)
    pbx.state(0.1, desk_103, "5")
    # 105 dials the pickup code: a channel (and Linkedid) of its own.
    picker = pbx.new(3.0, "PJSIP/105-03", context="from-internal", exten="*8", caller="105")
    pbx.state(3.1, picker, "6")
    # ast_do_pickup: ast_channel_move swaps Uniqueid and Linkedid, so Dial sees the picker answer
    # (DestLinkedid still the picker's), the rung phone's channel hangs up answered elsewhere, and
    # the basic bridge gives the picker the caller's Linkedid.
    pbx.dial_end(3.2, trunk, picker, "ANSWER")
    pbx.hangup(3.2, desk_103, cause="26")
    pbx.bridge(3.3, "b1", picker, trunk)
    picker.linkedid = trunk.linkedid
    pbx.bridge(12.5, "b1", picker, trunk, enter=False)
    pbx.hangup(12.5, picker)
    pbx.hangup(12.6, trunk)
    call = only(run(pbx.events))
    assert (call.call_id, call.direction, call.other_party) == (trunk.linkedid, "in", "+48601234567")
    assert (call.status, call.talk_s, call.ended_at) == ("answered", 9, at(12.6))


def test_talk_in_a_holding_bridge_is_not_a_conversation() -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    other = pbx.new(0, "PJSIP/trunk-02", context="from-trunk", exten="48221234567", caller="+48601234568")
    pbx.state(0.1, trunk, "6")
    pbx.state(0.1, other, "6")
    pbx.bridge(0.2, "parking", trunk, other, kind="holding")
    pbx.bridge(9.0, "parking", trunk, other, enter=False, kind="holding")
    pbx.hangup(9.0, trunk)
    pbx.hangup(9.0, other)
    calls = run(pbx.events)
    assert [(call.status, call.talk_s) for call in calls] == [("no_answer", 0), ("no_answer", 0)]


# ---- direction and parties ------------------------------------------------------------------


def test_direction_from_contexts_without_the_variables() -> None:
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-pstn", exten="221234567", caller="604567890")
    pbx.hangup(1, trunk, "1")
    desk = pbx.new(2, "PJSIP/201-02", context="from-internal", exten="600100400", caller="201")
    desk.caller = "48221234567"  # the outbound route presents the company number
    pbx.set_vars(2.1, desk, {})
    pbx.hangup(3, desk, "34")
    inbound, outbound = run(pbx.events)
    assert (inbound.direction, inbound.number, inbound.other_party, inbound.status) == (
        "in",
        "+48221234567",
        "+48604567890",
        "failed",
    )
    assert (outbound.direction, outbound.number, outbound.other_party, outbound.status) == (
        "out",
        "+48221234567",
        "+48600100400",
        "failed",
    )


def test_outbound_through_a_trunk_prefix_route_is_the_number_the_dialplan_dialled() -> None:
    # `exten => _0X.,1,Gosub(pbxsms-tag-out,s,1(+48221234567,${EXTEN:1}))`: PBXSMS_OTHER in
    # manager.conf's channelvars comes as a ChanVariable on every event of the call.
    for chan_vars, config, expected in (
        ({**OUT_VARS, "PBXSMS_OTHER": "600100200"}, TrackerConfig(), "+48600100200"),
        (OUT_VARS, TrackerConfig(outbound_prefix="0"), "+48600100200"),
        (OUT_VARS, TrackerConfig(), "0600100200"),
    ):
        pbx = Pbx()
        desk = pbx.new(0, "PJSIP/201-01", context="from-internal", exten="0600100200", caller="201")
        pbx.set_vars(0.01, desk, chan_vars)
        carrier = pbx.new(0.02, "PJSIP/carrier-02", desk.linkedid, context="from-internal", caller="201")
        carrier.chan_vars = dict(chan_vars)
        pbx.dial_begin(0.03, desk, carrier)
        pbx.dial_end(3.0, desk, carrier, "ANSWER")
        pbx.bridge(3.0, "b1", carrier, desk)
        pbx.bridge(7.5, "b1", carrier, desk, enter=False)
        pbx.hangup(7.5, carrier)
        pbx.hangup(7.6, desk)
        call = only(run(pbx.events, config))
        assert (call.direction, call.number, call.other_party, call.talk_s) == ("out", "+48221234567", expected, 4)


def test_config_takes_the_outbound_prefix_from_the_settings() -> None:
    settings = Settings(tracking=TrackingSettings(outbound_prefix="9"))
    assert TrackerConfig.from_settings(settings).outbound_prefix == "9"
    assert TrackerConfig.from_settings(Settings()).outbound_prefix == ""


def test_internal_call_between_two_extensions() -> None:
    pbx = Pbx()
    desk = pbx.new(0, "PJSIP/201-01", context="sip-from-internal", exten="202", caller="201")
    other = pbx.new(0.1, "PJSIP/202-02", desk.linkedid, caller="202")
    pbx.dial_begin(0.1, desk, other)
    pbx.dial_end(0.8, desk, other, "BUSY")
    pbx.hangup(0.8, other, "17")
    pbx.hangup(0.9, desk, "17")
    call = only(run(pbx.events))
    assert (call.direction, call.number, call.other_party, call.status) == ("internal", None, "202", "busy")


def test_the_first_non_empty_direction_variable_wins() -> None:
    # An inbound call forwarded to a mobile through the outbound route stays inbound.
    pbx = Pbx()
    trunk, _phone = pbx.sip_inbound(0)
    forward = pbx.new(1, "PJSIP/carrier-03", trunk.linkedid)
    pbx.set_vars(1.1, forward, {"PBXSMS_DIRECTION": "out", "PBXSMS_DID": "+48221234999"})
    pbx.dial_begin(1.2, trunk, forward)
    pbx.dial_end(5, trunk, forward, "NOANSWER")
    pbx.hangup(5, forward)
    pbx.hangup(5, _phone)
    pbx.hangup(5.1, trunk)
    call = only(run(pbx.events))
    assert (call.direction, call.number, call.status) == ("in", "+48221234567", "no_answer")


def test_anonymous_caller_is_kept_raw() -> None:
    pbx = Pbx()
    trunk, phone = pbx.sip_inbound(0, caller="anonymous")
    pbx.dial_end(12, trunk, phone, "NOANSWER")
    pbx.hangup(12, phone)
    pbx.hangup(12, trunk)
    assert only(run(pbx.events)).other_party == "anonymous"


# ---- grace period, clocks, timers -----------------------------------------------------------


def _abandoned_call_without_dial_events(pbx: Pbx) -> Chan:
    """A call whose only evidence of the leg is its Cdr (dial events lost)."""
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    pbx.hangup(2.0, trunk)
    return trunk


def test_a_late_cdr_within_the_grace_period_is_used() -> None:
    tracker = CallTracker(TrackerConfig(cdr_grace_s=0.5))
    pbx = Pbx()
    trunk = _abandoned_call_without_dial_events(pbx)
    pbx.cdr(2.3, trunk, "BUSY", destination="PJSIP/202-02")
    newchannel, hangup, cdr = pbx.events
    assert tracker.feed(newchannel, T0) == []
    assert tracker.feed(hangup, T0 + 2.0) == []
    assert tracker.next_deadline_s() == pytest.approx(T0 + 2.5)
    assert tracker.feed(cdr, T0 + 2.3) == []
    assert tracker.tick(T0 + 2.49) == []
    call = only(tracker.tick(T0 + 2.5))
    assert call.status == "busy"
    assert (tracker.open_calls, tracker.completed, tracker.next_deadline_s()) == (0, 1, None)


def test_a_cdr_after_the_grace_period_comes_too_late() -> None:
    tracker = CallTracker(TrackerConfig(cdr_grace_s=0.5))
    pbx = Pbx()
    trunk = _abandoned_call_without_dial_events(pbx)
    pbx.cdr(2.7, trunk, "BUSY", destination="PJSIP/202-02")
    newchannel, hangup, cdr = pbx.events
    tracker.feed(newchannel, T0)
    tracker.feed(hangup, T0 + 2.0)
    call = only(tracker.feed(cdr, T0 + 2.7))  # the call is emitted before the Cdr is read
    assert call.status == "no_answer"
    assert tracker.waiting_cdrs == 1  # it might belong to a channel not announced yet...
    assert tracker.tick(T0 + 7.7) == []
    assert (tracker.waiting_cdrs, tracker.stats.orphan_cdrs) == (0, 1)  # ...until it is too old


def test_a_cdr_arriving_before_its_channel_is_kept_for_it() -> None:
    # Asterisk publishes a very short leg's Cdr before that leg's Newchannel (seen in busy_hour).
    tracker = CallTracker(TrackerConfig(cdr_grace_s=0.5))
    pbx = Pbx()
    trunk = _abandoned_call_without_dial_events(pbx)
    pbx.cdr(0.0, trunk, "BUSY", destination="PJSIP/202-02")
    newchannel, hangup, cdr = pbx.events
    for message in (cdr, newchannel, hangup):
        tracker.feed(message, T0 + 2.0)
    assert tracker.waiting_cdrs == 0
    assert only(tracker.flush()).status == "busy"
    assert tracker.stats.orphan_cdrs == 0


def test_grace_runs_on_the_drivers_clock_not_on_asterisks() -> None:
    # Asterisk's clock is an hour behind: the call must still be emitted cdr_grace_s after receipt.
    tracker = CallTracker(TrackerConfig(cdr_grace_s=0.5))
    pbx = Pbx()
    _abandoned_call_without_dial_events(pbx)
    received_s = T0 + 3600
    for message in pbx.events:
        tracker.feed(message, received_s)
    assert tracker.next_deadline_s() == pytest.approx(received_s + 0.5)
    call = only(tracker.tick(received_s + 0.5))
    assert call.ended_at == at(2.0)  # dated by the event, not by receipt


def test_a_new_leg_during_the_grace_period_keeps_the_call_open() -> None:
    tracker = CallTracker(TrackerConfig(cdr_grace_s=0.5))
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller="+48601234567")
    pbx.hangup(1.0, trunk)
    late = pbx.new(1.2, "PJSIP/201-02", trunk.linkedid)
    pbx.hangup(3.0, late)
    first, hangup, newchannel, last = pbx.events
    tracker.feed(first, T0)
    tracker.feed(hangup, T0 + 1.0)
    tracker.feed(newchannel, T0 + 1.2)
    assert tracker.tick(T0 + 2.0) == []
    tracker.feed(last, T0 + 3.0)
    assert only(tracker.tick(T0 + 3.5)).ended_at == at(3.0)


def test_events_without_timestamp_are_dated_by_receipt() -> None:
    pbx = Pbx(with_timestamps=False)
    trunk, phone = pbx.sip_inbound(0)
    pbx.dial_end(0, trunk, phone, "ANSWER")
    pbx.bridge(0, "b1", phone, trunk)
    pbx.bridge(0, "b1", phone, trunk, enter=False)
    pbx.hangup(0, phone)
    pbx.hangup(0, trunk)
    tracker = CallTracker(TrackerConfig(cdr_grace_s=0.5))
    receipt = [T0 + offset_s for offset_s in (10, 10, 10, 10, 12, 12, 12, 17.5, 17.5, 17.6, 17.6)]
    assert len(receipt) == len(pbx.events)
    for message, now_s in zip(pbx.events, receipt, strict=True):
        assert tracker.feed(message, now_s) == []
    call = only(tracker.tick(T0 + 18.1))
    assert (call.started_at, call.ended_at, call.status, call.talk_s) == (at(10), at(17.6), "answered", 5)


def test_next_deadline_is_none_when_idle_and_the_age_limit_for_an_open_call() -> None:
    tracker = CallTracker(TrackerConfig(max_call_age_s=100))
    assert tracker.next_deadline_s() is None
    pbx = Pbx()
    pbx.new(0, "PJSIP/trunk-01")
    tracker.feed(pbx.events[0], T0 + 5)
    assert tracker.next_deadline_s() == pytest.approx(T0 + 105)


# ---- bounded state --------------------------------------------------------------------------


def test_max_open_calls_drops_the_oldest_unfinished_call(caplog: pytest.LogCaptureFixture) -> None:
    tracker = CallTracker(TrackerConfig(max_open_calls=2))
    pbx = Pbx()
    chans = [pbx.new(i, f"PJSIP/trunk-0{i}", context="from-trunk", exten="48221234567") for i in range(3)]
    with caplog.at_level(logging.WARNING):
        for i, message in enumerate(pbx.events):
            assert tracker.feed(message, T0 + i) == []
    assert (tracker.open_calls, tracker.dropped) == (2, 1)
    assert chans[0].linkedid in caplog.text
    for chan in chans:
        pbx.hangup(5, chan)
    emitted = [call.call_id for message in pbx.events[3:] for call in tracker.feed(message, T0 + 5)]
    emitted += [call.call_id for call in tracker.flush()]
    assert emitted == [chans[1].linkedid, chans[2].linkedid]


def test_max_open_calls_emits_a_finished_call_early_rather_than_dropping_it() -> None:
    tracker = CallTracker(TrackerConfig(max_open_calls=1, cdr_grace_s=10))
    pbx = Pbx()
    first = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567")
    pbx.hangup(1, first)
    pbx.new(2, "PJSIP/trunk-02", context="from-trunk", exten="48221234567")
    newchannel, hangup, second = pbx.events
    tracker.feed(newchannel, T0)
    tracker.feed(hangup, T0 + 1)
    assert [call.call_id for call in tracker.feed(second, T0 + 2)] == [first.linkedid]
    assert (tracker.open_calls, tracker.dropped, tracker.completed) == (1, 0, 1)


def test_lost_hangups_cannot_grow_the_state_beyond_max_open_calls() -> None:
    tracker = CallTracker(TrackerConfig(max_open_calls=100))
    pbx = Pbx()
    for i in range(2_000):
        trunk = pbx.new(i, f"PJSIP/trunk-{i}", context="from-trunk", exten="48221234567")
        phone = pbx.new(i, f"PJSIP/201-{i}", trunk.linkedid)
        pbx.bridge(i, f"bridge-{i}", trunk, phone)  # and then the Hangups are lost
    for message in pbx.events:
        tracker.feed(message, float(message.fields["Timestamp"]))
        assert tracker.open_calls <= 100
    assert (tracker.open_calls, tracker.tracked_channels, tracker.tracked_bridges) == (100, 200, 100)
    assert tracker.dropped == 1_900
    assert tracker.flush() == []
    assert tracker.dropped == 2_000
    assert (tracker.tracked_channels, tracker.tracked_bridges, tracker.next_deadline_s()) == (0, 0, None)


def test_a_call_older_than_the_age_limit_is_dropped_and_never_emitted() -> None:
    tracker = CallTracker(TrackerConfig(max_call_age_s=60))
    pbx = Pbx()
    lost = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567")
    tracker.feed(pbx.events[0], T0)
    assert tracker.tick(T0 + 59) == []
    assert tracker.open_calls == 1
    assert tracker.tick(T0 + 60) == []
    assert (tracker.open_calls, tracker.dropped) == (0, 1)
    pbx.hangup(61, lost)
    assert tracker.feed(pbx.events[-1], T0 + 61) == []
    assert tracker.flush() == []
    assert tracker.stats.unknown_channel_events == 1


def test_a_lost_connection_keeps_the_calls_in_progress_and_marks_the_gap(caplog: pytest.LogCaptureFixture) -> None:
    tracker = CallTracker(TrackerConfig())
    pbx = Pbx()
    trunk, phone = pbx.sip_inbound(0)
    for message in pbx.events:
        tracker.feed(message, T0)
    tracker.connection_lost()
    assert (tracker.open_calls, tracker.dropped) == (1, 0)
    # After the reconnect the call goes on: a new leg, then everyone hangs up.
    mark = len(pbx.events)
    late_leg = pbx.new(3, "PJSIP/203-09", trunk.linkedid)
    pbx.dial_end(3.5, trunk, phone, "CANCEL")
    pbx.hangup(4, late_leg)
    pbx.hangup(4, phone)
    pbx.hangup(4, trunk)
    completed = [call for message in pbx.events[mark:] for call in tracker.feed(message, T0 + 4)]
    call = only(completed + tracker.flush())
    assert (call.call_id, call.status, call.evidence, call.ended_at) == (trunk.linkedid, "no_answer", "gap", at(4))
    assert (tracker.dropped, tracker.stats.completed_gap) == (0, 1)


def test_flush_emits_finished_calls_and_drops_unfinished_ones(caplog: pytest.LogCaptureFixture) -> None:
    tracker = CallTracker(TrackerConfig(cdr_grace_s=30))
    pbx = Pbx()
    done = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567")
    pbx.hangup(1, done)
    open_call = pbx.new(2, "PJSIP/trunk-02", context="from-trunk", exten="48221234567")
    for message in pbx.events:
        tracker.feed(message, T0 + 2)
    with caplog.at_level(logging.WARNING):
        assert [call.call_id for call in tracker.flush()] == [done.linkedid]
    assert open_call.linkedid in caplog.text
    assert (tracker.open_calls, tracker.completed, tracker.dropped) == (0, 1, 1)


# ---- garbage in -----------------------------------------------------------------------------


def test_garbage_fields_do_not_crash_the_tracker() -> None:
    tracker = CallTracker(TrackerConfig())
    garbage = [
        event("Newchannel", None, {"Channel": "PJSIP/x"}),  # no Uniqueid
        event("Newchannel", None, {"Uniqueid": "7.1", "Timestamp": "yesterday", "Exten": "123"}),  # no Linkedid
        event("Hangup", None, {"Uniqueid": "no-such-channel", "Linkedid": "nope"}),
        event("DialEnd", None, {"Uniqueid": "7.1", "DestUniqueid": "", "DialStatus": ""}),
        event("DialBegin", None, {"DestUniqueid": "missing"}),
        event("BridgeEnter", None, {"Uniqueid": "7.1", "Linkedid": "7.1"}),  # no bridge id
        event("BridgeLeave", None, {"Uniqueid": "7.1", "BridgeUniqueid": "never-entered"}),
        event("BridgeDestroy", None, {}),
        event("Cdr", None, {"UniqueID": "7.1", "BillableSeconds": "lots", "Disposition": "???"}),
        event("Cdr", None, {}),
        event("Hangup", 1e400, {"Uniqueid": "7.1", "Cause": ""}),
        AmiMessage({"Response": "Success"}),
    ]
    completed = [call for message in garbage for call in tracker.feed(message, T0)]
    completed += tracker.flush()
    call = only(completed)
    assert (call.call_id, call.started_at, call.ended_at, call.status) == ("7.1", at(0), at(0), "no_answer")
    assert tracker.stats.malformed_events == 2  # the Newchannel and the Cdr without a Uniqueid
    assert tracker.dropped == 1  # the stray Hangup's call: never known to be over


def test_a_leg_of_a_call_that_began_before_we_listened_is_ignored() -> None:
    pbx = Pbx()
    leg = pbx.new(0, "PJSIP/201-05", linkedid="1795000000.999")
    pbx.hangup(5, leg)
    assert run(pbx.events) == []


# ---- configuration --------------------------------------------------------------------------


def test_config_from_settings_and_the_wanted_events() -> None:
    settings = Settings(
        tracking=TrackingSettings(cdr_grace_s=2.5, inbound_contexts=("a", "b"), max_open_calls=7), country="DE"
    )
    config = TrackerConfig.from_settings(settings)
    assert (config.cdr_grace_s, config.inbound_contexts, config.country, config.max_open_calls) == (
        2.5,
        ("a", "b"),
        "DE",
        7,
    )
    assert {"Newchannel", "Hangup", "DialBegin", "DialEnd", "BridgeEnter", "BridgeLeave", "Cdr"} <= WANTED_EVENTS
    # Events only a read=all user receives must not be needed.
    assert not WANTED_EVENTS & {"Newexten", "VarSet", "FullyBooted", "QueueCallerJoin", "AgentConnect"}
