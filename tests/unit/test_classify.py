"""The classifier on tracked call state: status priority, talk time, direction and parties."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pbx_sms.ami.call_state import CallState, CdrRecord, ChannelState
from pbx_sms.ami.classify import call_parties, call_status, classify_call
from pbx_sms.ami.tracker import TrackerConfig

T0 = 1_795_574_695.0
CONFIG = TrackerConfig()


def channel(uniqueid: str, **attrs: object) -> ChannelState:
    chan = ChannelState(uniqueid=uniqueid, name=f"PJSIP/{uniqueid}", created_at_s=T0)
    for key, value in attrs.items():
        setattr(chan, key, value)
    return chan


def call_with(*channels: ChannelState, **attrs: object) -> CallState:
    call = CallState(linkedid=channels[0].uniqueid, opened_now_s=T0, started_at_s=T0, ended_at_s=T0 + 30)
    call.channels = {chan.uniqueid: chan for chan in channels}
    for key, value in attrs.items():
        setattr(call, key, value)
    return call


def origin(caller: str, context: str, exten: str, **attrs: object) -> ChannelState:
    return channel("1.1", caller_num=caller, last_caller_num=caller, context=context, exten=exten, **attrs)


# ---- status ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dial_statuses", "expected"),
    [
        (["ANSWER", "CANCEL"], "answered"),
        (["CANCEL"], "no_answer"),
        (["NOANSWER", "BUSY", "CONGESTION"], "no_answer"),
        (["BUSY", "CHANUNAVAIL"], "busy"),
        (["CONGESTION"], "failed"),
        (["CHANUNAVAIL"], "failed"),
        (["SOMETHING-NEW"], "failed"),
    ],
)
def test_status_priority(dial_statuses: list[str], expected: str) -> None:
    call = call_with(channel("1.1"), dial_statuses=dial_statuses, dialled_legs={"1.2"}, ended_legs={"1.2"})
    if "ANSWER" in dial_statuses:
        call.person_answer_at_s = T0 + 1
    assert call_status(call, T0 + 30)[0] == expected


def test_a_leg_that_rang_without_a_dial_result_counts_as_no_answer() -> None:
    call = call_with(channel("1.1"), dial_statuses=["BUSY"], dialled_legs={"1.2", "1.3"}, ended_legs={"1.2"})
    assert call_status(call, T0 + 30) == ("no_answer", 0)


def test_the_pbx_answering_the_caller_is_not_an_answer_but_makes_busy_legs_a_missed_call() -> None:
    caller = channel("1.1", was_up=True)
    call = call_with(caller, dial_statuses=["BUSY"], dialled_legs={"1.2"}, ended_legs={"1.2"})
    assert call_status(call, T0 + 30) == ("no_answer", 0)
    # A channel that was itself rung (an originated desk phone) answering is not the PBX answering.
    caller.dial_destination = True
    assert call_status(call, T0 + 30) == ("busy", 0)


@pytest.mark.parametrize(
    ("cause", "expected"), [("17", "busy"), ("34", "failed"), ("1", "failed"), ("16", "no_answer")]
)
def test_without_any_dial_the_hangup_cause_decides(cause: str, expected: str) -> None:
    call = call_with(channel("1.1", hung_up_at_s=T0 + 2, hangup_cause=cause))
    assert call_status(call, T0 + 2) == (expected, 0)


def test_without_dial_events_the_cdrs_of_dial_attempts_are_the_fallback() -> None:
    caller_cdr = CdrRecord("1.1", "ANSWERED", "", 25)  # the PBX answered: not a person
    attempt = CdrRecord("1.1", "NO ANSWER", "PJSIP/201-01", 0)
    call = call_with(channel("1.1"), cdrs=[caller_cdr, attempt])
    assert call_status(call, T0 + 30) == ("no_answer", 0)
    call.cdrs.append(CdrRecord("1.1", "ANSWERED", "PJSIP/202-02", 12))
    assert call_status(call, T0 + 30) == ("answered", 12)
    assert call_status(call_with(channel("1.1"), cdrs=[caller_cdr]), T0 + 30) == ("no_answer", 0)


# ---- talk time ------------------------------------------------------------------------------


def test_talk_runs_from_the_person_answering_to_the_last_disconnect_floored() -> None:
    call = call_with(
        channel("1.1"),
        dial_statuses=["ANSWER"],
        person_answer_at_s=T0 + 3.9,
        first_connected_at_s=T0 + 4.0,
        last_disconnected_at_s=T0 + 12.8,
    )
    assert call_status(call, T0 + 30) == ("answered", 8)


def test_talk_of_a_call_still_bridged_at_its_end_runs_to_the_end() -> None:
    call = call_with(channel("1.1"), person_answer_at_s=T0 + 2, connected_since_s=T0 + 2, first_connected_at_s=T0 + 2)
    assert call_status(call, T0 + 9.5) == ("answered", 7)


def test_talk_of_an_answer_never_bridged_ends_when_the_answered_leg_left() -> None:
    call = call_with(
        channel("1.1", hung_up_at_s=T0 + 30),
        channel("1.2", hung_up_at_s=T0 + 5.5),
        person_answer_at_s=T0 + 5,
        answered_legs={"1.2"},
    )
    assert call_status(call, T0 + 30) == ("answered", 0)


def test_talk_never_runs_past_the_calls_own_end() -> None:
    # A channel that left for another call (a transfer) seen unbridged after this call ended.
    call = call_with(channel("1.1"), person_answer_at_s=T0 + 3, first_connected_at_s=T0 + 3)
    call.last_disconnected_at_s = T0 + 17
    assert call_status(call, T0 + 8.5) == ("answered", 5)


def test_a_bridge_of_two_parties_without_a_dial_is_an_answer() -> None:
    # A parked caller picked up from the parking lot: no Dial, but two parties talked.
    call = call_with(channel("1.1"), first_connected_at_s=T0 + 10, last_disconnected_at_s=T0 + 70)
    assert call_status(call, T0 + 71) == ("answered", 60)


# ---- direction, company number, other party ---------------------------------------------


@pytest.mark.parametrize(
    ("caller", "expected_other"),
    [
        ("+48601234567", "+48601234567"),
        ("48602345678", "+48602345678"),  # international form without "+"
        ("0048603456789", "+48603456789"),
        ("604567890", "+48604567890"),  # national
        ("anonymous", "anonymous"),
        ("", "<unknown>"),
    ],
)
def test_inbound_other_party_is_the_caller_in_e164_or_raw(caller: str, expected_other: str) -> None:
    call = call_with(origin(caller, "from-trunk", "48221234567"))
    assert call_parties(call, CONFIG) == ("in", "+48221234567", expected_other)


def test_variables_win_over_contexts_and_the_did_is_normalised() -> None:
    call = call_with(origin("201", "from-trunk", "600100200"), direction_var="out", did_var="221234567")
    assert call_parties(call, CONFIG) == ("out", "+48221234567", "+48600100200")


def test_unknown_direction_value_falls_back_to_the_dialplan() -> None:
    call = call_with(origin("+48601234567", "from-trunk", "48221234567"), direction_var="sideways")
    assert call_parties(call, CONFIG).direction == "in"


def test_internal_calls_have_no_number_and_the_called_extension() -> None:
    call = call_with(origin("201", "from-internal", "202"))
    assert call_parties(call, CONFIG) == ("internal", None, "202")
    by_variable = call_with(origin("201", "x", "7"), direction_var="internal", did_var="+48221234567")
    assert call_parties(by_variable, CONFIG) == ("internal", None, "7")


def test_internal_max_digits_is_configurable() -> None:
    call = call_with(origin("201", "somewhere", "60010"))
    assert call_parties(call, CONFIG) == ("internal", None, "60010")
    assert call_parties(call, TrackerConfig(internal_max_digits=4)).direction != "internal"


def test_contexts_are_configurable_and_unknown_ones_are_guessed_from_the_parties() -> None:
    config = TrackerConfig(inbound_contexts=("sip-from-trunk",), outbound_contexts=("sip-from-internal",))
    outbound = call_with(origin("201", "sip-from-internal", "600100400"))
    assert call_parties(outbound, config) == ("out", None, "+48600100400")
    guessed_out = call_with(origin("201", "elsewhere", "600100400"))
    assert call_parties(guessed_out, config).direction == "out"
    guessed_in = call_with(origin("+48601234567", "elsewhere", "48221234567"))
    assert call_parties(guessed_in, config) == ("in", "+48221234567", "+48601234567")


def test_outbound_company_number_from_the_presented_caller_id() -> None:
    desk = origin("201", "from-internal", "600100400")
    desk.last_caller_num = "48221234567"
    trunk = channel("1.2", last_caller_num="600100400")  # the outgoing leg shows the dialled number
    assert call_parties(call_with(desk, trunk), CONFIG) == ("out", "+48221234567", "+48600100400")


def test_the_dialplans_other_party_wins_over_the_dialled_extension() -> None:
    # The README's `_0X.` route: the extension is 0600100200, the dialplan dials 600100200.
    tagged = call_with(origin("201", "from-internal", "0600100200"), direction_var="out", other_var="600100200")
    assert call_parties(tagged, CONFIG).other_party == "+48600100200"
    inbound = call_with(origin("+48601234567", "from-trunk", "48221234567"), direction_var="in", other_var="anonymous")
    assert call_parties(inbound, CONFIG).other_party == "anonymous"


def test_without_pbxsms_other_the_outbound_prefix_is_taken_off() -> None:
    tagged = call_with(origin("201", "from-internal", "0600100200"), direction_var="out")
    assert call_parties(tagged, CONFIG).other_party == "0600100200"  # no prefix configured: as dialled
    with_prefix = TrackerConfig(outbound_prefix="0")
    assert call_parties(tagged, with_prefix).other_party == "+48600100200"
    # Only a leading prefix, never the whole extension, and never on an inbound call.
    assert call_parties(call_with(origin("201", "from-internal", "0"), direction_var="out"), with_prefix)[2] == "0"
    inbound = call_with(origin("0601234567", "from-trunk", "48221234567"), direction_var="in")
    assert call_parties(inbound, with_prefix).other_party == "0601234567"
    # Without the tags and contexts, the number after the prefix tells the call goes out.
    untagged = call_with(origin("201", "elsewhere", "0600100200"))
    assert call_parties(untagged, with_prefix) == ("out", None, "+48600100200")
    assert call_parties(untagged, CONFIG).direction == "in"


def test_country_decides_national_numbers() -> None:
    call = call_with(origin("030123456", "from-trunk", "4930901820"))
    assert call_parties(call, TrackerConfig(country="DE")) == ("in", "+4930901820", "+4930123456")


# ---- the whole record -----------------------------------------------------------------------


def test_classify_call_dates_in_utc_whole_seconds() -> None:
    call = call_with(
        origin("+48601234567", "from-trunk", "48221234567"),
        person_answer_at_s=T0 + 1.4,
        last_disconnected_at_s=T0 + 5.9,
        ended_at_s=T0 + 5.98,
    )
    call.started_at_s = T0 + 0.47
    completed = classify_call(call, CONFIG)
    assert completed.to_json() == {
        "call_id": "1.1",
        "direction": "in",
        "number": "+48221234567",
        "other_party": "+48601234567",
        "status": "answered",
        "talk_s": 4,
        "started_at": "2026-11-25T02:44:55+00:00",
        "ended_at": "2026-11-25T02:45:00+00:00",
        "evidence": "full",
    }
    assert completed.started_at == datetime(2026, 11, 25, 2, 44, 55, tzinfo=UTC)
