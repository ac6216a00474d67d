"""The AGI hook's pure part: dialplan arguments → CompletedCall (or None with the reason)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_sms.hangup import AGI_ARGUMENTS, dialplan_agi_line
from pbx_sms.hangup.mapping import (
    ArgumentError,
    HookArguments,
    arguments_from_agi_env,
    map_call,
    parse_arguments,
    queue_sets_answered_time,
)

START = 1_700_000_000
END = START + 95


def hook_args(**overrides: str) -> HookArguments:
    base = HookArguments(
        linkedid="1700000000.17",
        direction="in",
        start_epoch=str(START),
        end_epoch=str(END),
        dial_status="",
        answered_time="",
        queue_status="",
        member_interface="",
        answered_epoch="",
        hangup_cause="16",
        did="+48221234567",
        other_party="602345678",
        channel_caller="602345678",
    )
    return replace(base, **overrides)


def mapped(**overrides: str):  # type: ignore[no-untyped-def]
    outcome = map_call(hook_args(**overrides), "PL", 5)
    assert outcome.call is not None, outcome.reason
    return outcome


# --- status --------------------------------------------------------------------------------------


def test_dial_answer_without_answer_time_takes_answeredtime_as_an_upper_bound_only() -> None:
    # Dial()'s ANSWEREDTIME is the caller channel's up time: after an early Answer() it counts the greeting.
    outcome = mapped(dial_status="ANSWER", answered_time="42")
    assert (outcome.call.status, outcome.call.talk_s, outcome.call.evidence) == ("answered", 42, "hint")
    assert "caller channel's up time" in outcome.notes[0]


def test_the_pbxsms_answered_time_wins_over_dials_answeredtime() -> None:
    # Answered by the PBX, a greeting, then Dial() with U(pbxsms-answered): the person talked 4 s of 10.
    outcome = mapped(dial_status="ANSWER", answered_time="10", answered_epoch=str(END - 4))
    assert (outcome.call.status, outcome.call.talk_s, outcome.call.evidence) == ("answered", 4, "hook")
    assert outcome.notes == ()


@pytest.mark.parametrize(
    ("version", "sets"),
    [
        ("22.9.0", True),
        ("22.10.1", True),
        ("22.8.2", False),
        ("22.0.0", False),
        ("20.19.0", True),
        ("20.18.2", False),
        ("21.12.3", False),
        ("23.3.0", True),
        ("23.2.2", False),
        ("24.0.0", True),
        ("18.9-cert4", False),
        ("GIT-master-43b6994", False),
        ("", False),
    ],
)
def test_which_asterisk_versions_queue_sets_answeredtime(version: str, sets: bool) -> None:
    # app_queue.c, "Queue Timing Parity with Dial()": in the 20.19, 22.9 and 23.3 releases, and later ones.
    assert queue_sets_answered_time(version) is sets


def test_queue_answeredtime_since_22_9_is_the_members_talk_time() -> None:
    answered = mapped(answered_time="37", asterisk_version="22.9.0")
    assert (answered.call.status, answered.call.talk_s, answered.call.evidence) == ("answered", 37, "hook")
    unserved = mapped(answered_time="0", asterisk_version="22.9.0")
    assert (unserved.call.status, unserved.call.evidence) == ("no_answer", "hook")


def test_queue_answeredtime_is_not_read_before_22_9() -> None:
    # Not set by Queue() there: no value to trust, the call stays a default no_answer.
    outcome = mapped(answered_time="37", asterisk_version="22.8.2")
    assert (outcome.call.status, outcome.call.talk_s, outcome.call.evidence) == ("no_answer", 0, "hint")


def test_definite_results_are_hook_evidence_defaults_are_hints() -> None:
    assert mapped(dial_status="NOANSWER").call.evidence == "hook"
    assert mapped(dial_status="BUSY").call.evidence == "hook"
    assert mapped(queue_status="TIMEOUT").call.evidence == "hook"
    assert mapped(answered_epoch=str(END - 3)).call.evidence == "hook"
    assert mapped().call.evidence == "hint"
    assert mapped(hangup_cause="17").call.evidence == "hint"
    assert mapped(member_interface="PJSIP/101").call.evidence == "hint"


@pytest.mark.parametrize(
    ("dial_status", "status"),
    [
        ("NOANSWER", "no_answer"),
        ("CANCEL", "no_answer"),
        ("BUSY", "busy"),
        ("CONGESTION", "failed"),
        ("CHANUNAVAIL", "failed"),
        ("DONTCALL", "failed"),
        ("noanswer", "no_answer"),
    ],
)
def test_unanswered_dial_statuses(dial_status: str, status: str) -> None:
    outcome = mapped(dial_status=dial_status, answered_time="")
    assert (outcome.call.status, outcome.call.talk_s) == (status, 0)


def test_answer_without_answeredtime_uses_the_recorded_answer_time_or_says_it_is_unknown() -> None:
    timed = mapped(dial_status="ANSWER", answered_epoch=str(END - 30))
    assert (timed.call.status, timed.call.talk_s) == ("answered", 30)
    untimed = mapped(dial_status="ANSWER")
    assert (untimed.call.status, untimed.call.talk_s) == ("answered", 0)
    assert "ANSWEREDTIME is empty" in untimed.notes[0]


def test_queue_answer_recorded_by_pbxsms_answered_gives_talk_time() -> None:
    outcome = mapped(answered_epoch=str(END - 61), member_interface="PJSIP/101")
    assert (outcome.call.status, outcome.call.talk_s) == ("answered", 61)


@pytest.mark.parametrize("evidence", [{"member_interface": "PJSIP/101"}, {"queue_status": "CONTINUE"}])
def test_queue_member_answer_without_answer_time_is_answered_with_unknown_talk_time(evidence: dict[str, str]) -> None:
    outcome = mapped(**evidence)
    assert (outcome.call.status, outcome.call.talk_s) == ("answered", 0)
    assert "membergosub = pbxsms-answered" in outcome.notes[0]


@pytest.mark.parametrize("queue_status", ["TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"])
def test_queue_left_unserved_is_no_answer(queue_status: str) -> None:
    outcome = mapped(queue_status=queue_status)
    assert (outcome.call.status, outcome.call.talk_s) == ("no_answer", 0)


def test_a_person_answering_anywhere_wins_over_an_earlier_unanswered_dial() -> None:
    outcome = mapped(dial_status="NOANSWER", member_interface="Local/101@from-queue/n", answered_epoch=str(END - 5))
    assert (outcome.call.status, outcome.call.talk_s) == ("answered", 5)


def test_no_answer_outranks_busy_across_dial_and_queue() -> None:
    assert mapped(dial_status="BUSY", queue_status="TIMEOUT").call.status == "no_answer"
    assert mapped(dial_status="BUSY").call.status == "busy"


@pytest.mark.parametrize(("cause", "status"), [("17", "busy"), ("34", "failed"), ("1", "failed")])
def test_nothing_dialled_falls_back_on_the_hangup_cause(cause: str, status: str) -> None:
    assert mapped(hangup_cause=cause).call.status == status


def test_nothing_dialled_and_a_normal_hangup_is_no_answer_never_answered() -> None:
    outcome = mapped(hangup_cause="16")
    assert (outcome.call.status, outcome.call.talk_s) == ("no_answer", 0)
    assert "looks the same" in outcome.notes[0]


@given(
    dial_status=st.sampled_from(["", "ANSWER", "NOANSWER", "BUSY", "CANCEL", "CONGESTION", "x"]),
    answered_time=st.sampled_from(["", "0", "12", "-3", "abc", "nan", "4.9"]),
    queue_status=st.sampled_from(["", "TIMEOUT", "CONTINUE", "FULL"]),
    member_interface=st.sampled_from(["", "PJSIP/101"]),
    answered_epoch=st.sampled_from(["", "abc", str(END - 10), str(END + 10), "0", "inf"]),
    hangup_cause=st.sampled_from(["", "16", "17", "34", "19"]),
)
def test_answered_only_on_evidence_and_talk_time_never_negative(
    dial_status: str,
    answered_time: str,
    queue_status: str,
    member_interface: str,
    answered_epoch: str,
    hangup_cause: str,
) -> None:
    outcome = mapped(
        dial_status=dial_status,
        answered_time=answered_time,
        queue_status=queue_status,
        member_interface=member_interface,
        answered_epoch=answered_epoch,
        hangup_cause=hangup_cause,
    )
    evidence = (
        dial_status == "ANSWER"
        or answered_epoch in (str(END - 10), str(END + 10))
        or member_interface != ""
        or queue_status == "CONTINUE"
    )
    assert (outcome.call.status == "answered") == evidence
    assert outcome.call.talk_s >= 0
    if outcome.call.status != "answered":
        assert outcome.call.talk_s == 0


# --- parties and times ---------------------------------------------------------------------------


def test_incoming_call_company_number_and_caller_in_e164() -> None:
    call = mapped(did="221234567", other_party="602345678").call
    assert (call.direction, call.number, call.other_party) == ("in", "+48221234567", "+48602345678")
    assert call.call_id == "1700000000.17"
    assert call.started_at == datetime.fromtimestamp(START, UTC)
    assert call.ended_at == datetime.fromtimestamp(END, UTC)


def test_outgoing_call_other_party_is_the_dialled_number() -> None:
    call = mapped(direction="out", did="+48221234567", other_party="0048602345678", channel_caller="101").call
    assert (call.direction, call.number, call.other_party) == ("out", "+48221234567", "+48602345678")


def test_both_parties_short_extensions_is_internal() -> None:
    outgoing = mapped(direction="out", other_party="102", channel_caller="101").call
    assert (outgoing.direction, outgoing.number, outgoing.other_party) == ("internal", None, "102")
    incoming = mapped(direction="in", did="100", other_party="101").call
    assert (incoming.direction, incoming.number) == ("internal", None)


def test_short_caller_on_a_public_company_number_stays_incoming() -> None:
    call = mapped(direction="in", did="+48221234567", other_party="101").call
    assert (call.direction, call.number, call.other_party) == ("in", "+48221234567", "101")


@pytest.mark.parametrize(("caller_id", "shown"), [("", "<unknown>"), ("anonymous", "anonymous")])
def test_withheld_caller_is_kept_as_such(caller_id: str, shown: str) -> None:
    assert mapped(other_party=caller_id).call.other_party == shown


def test_company_number_that_is_not_a_phone_number() -> None:
    kept = mapped(did="12345678", dial_status="NOANSWER")
    assert kept.call.number == "12345678"
    assert kept.notes == ("PBXSMS_DID '12345678' is not a valid phone number: kept as it is",)
    dropped = mapped(did="x" * 40, dial_status="NOANSWER")
    assert dropped.call.number is None
    missing = mapped(did="", dial_status="NOANSWER")
    assert missing.call.number is None
    assert missing.notes == ("PBXSMS_DID is empty: the call has no company number",)


def test_start_after_end_is_clamped_to_the_end() -> None:
    call = mapped(start_epoch=str(END + 50)).call
    assert call.started_at == call.ended_at == datetime.fromtimestamp(END, UTC)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"linkedid": ""}, "no linkedid"),
        ({"direction": ""}, "PBXSMS_DIRECTION is ''"),
        ({"direction": "sideways"}, "expected in or out"),
        ({"end_epoch": ""}, "end time"),
        ({"start_epoch": "soon"}, "start time 'soon'"),
    ],
)
def test_arguments_that_describe_no_call(overrides: dict[str, str], reason: str) -> None:
    outcome = map_call(hook_args(**overrides), "PL", 5)
    assert outcome.call is None
    assert reason in outcome.reason


# --- argument parsing -----------------------------------------------------------------------------


def values(**overrides: str) -> list[str]:
    args = hook_args(**overrides)
    return [getattr(args, argument.name) for argument in AGI_ARGUMENTS]


def test_parse_arguments_in_the_order_of_agi_arguments() -> None:
    parsed = parse_arguments([f" {value} " for value in values()], channel_caller=" 101 ", asterisk_version=" 22.9.0 ")
    assert parsed == hook_args(channel_caller="101", asterisk_version="22.9.0")


def test_commas_in_the_caller_id_come_back_as_one_value() -> None:
    raw = [*values()[:-1], "6023", "45678", "x"]
    assert parse_arguments(raw).other_party == "6023,45678,x"


def test_too_few_arguments_name_what_is_expected() -> None:
    with pytest.raises(ArgumentError, match=r"expected 12 AGI arguments \(linkedid, direction,.*got 3"):
        parse_arguments(["1.1", "in", "1"])


def test_agi_env_arguments_in_order_and_stop_at_the_first_gap() -> None:
    env = {"agi_arg_2": "b", "agi_arg_1": "a", "agi_arg_3": "", "agi_arg_5": "late", "agi_channel": "x"}
    assert arguments_from_agi_env(env) == ["a", "b", ""]


def test_dialplan_line_lists_every_argument_once_other_party_last() -> None:
    line = dialplan_agi_line()
    assert line.startswith("AGI(pbx-sms-hangup.agi,${CHANNEL(linkedid)},")
    assert line.endswith(",${PBXSMS_OTHER})")
    assert len({argument.name for argument in AGI_ARGUMENTS}) == len(AGI_ARGUMENTS) == 12
