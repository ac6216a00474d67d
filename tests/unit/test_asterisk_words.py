"""The AMI classifier and the AGI mapping read Asterisk's words alike (one vocabulary, pbx_sms.core.asterisk)."""

from __future__ import annotations

import pytest

from pbx_sms.ami.call_state import CallState, ChannelState
from pbx_sms.ami.classify import call_parties, call_status
from pbx_sms.ami.tracker import TrackerConfig
from pbx_sms.core.asterisk import BUSY_CAUSES, DIRECTION_WORDS, FAILURE_CAUSES, direction_of, status_of_hangup_cause
from pbx_sms.hangup.mapping import HookArguments, map_call

T0 = 1_795_574_695.0


def ami_call(hangup_cause: str = "16", direction_var: str = "") -> CallState:
    """A call that dialled nobody: the caller's channel rang in and hung up."""
    caller = ChannelState(
        uniqueid="1.1",
        name="PJSIP/trunk-00000001",
        created_at_s=T0,
        context="from-trunk",
        exten="48221234567",
        caller_num="+48602345678",
        last_caller_num="+48602345678",
        hung_up_at_s=T0 + 9,
        hangup_cause=hangup_cause,
    )
    return CallState(
        linkedid="1.1",
        opened_now_s=T0,
        started_at_s=T0,
        channels={"1.1": caller},
        direction_var=direction_var,
        ended_at_s=T0 + 9,
    )


def agi_call(hangup_cause: str = "16", direction: str = "in") -> HookArguments:
    return HookArguments(
        linkedid="1.1",
        direction=direction,
        start_epoch=str(int(T0)),
        end_epoch=str(int(T0) + 9),
        dial_status="",
        answered_time="",
        queue_status="",
        member_interface="",
        answered_epoch="",
        hangup_cause=hangup_cause,
        did="+48221234567",
        other_party="+48602345678",
    )


@pytest.mark.parametrize("cause", sorted(BUSY_CAUSES | FAILURE_CAUSES | {"16", "19", "", "999"}))
def test_a_call_that_reached_nobody_gets_the_same_status_from_its_hangup_cause_both_ways(cause: str) -> None:
    ami_status, _ = call_status(ami_call(hangup_cause=cause), T0 + 9)
    outcome = map_call(agi_call(hangup_cause=cause), "PL")
    assert outcome.call is not None
    assert ami_status == outcome.call.status == (status_of_hangup_cause(cause) or "no_answer")


def test_hangup_causes_busy_17_and_failures_such_as_unallocated_number() -> None:
    assert [status_of_hangup_cause(cause) for cause in ("17", "1", "34", "16", "")] == [
        "busy",
        "failed",
        "failed",
        None,
        None,
    ]


@pytest.mark.parametrize("word", [*DIRECTION_WORDS, " Inbound ", "OUT", "Internal"])
def test_direction_words_mean_the_same_to_the_listener_and_the_hook(word: str) -> None:
    expected = direction_of(word)
    assert expected is not None
    ami_direction = call_parties(ami_call(direction_var=word), TrackerConfig()).direction
    outcome = map_call(agi_call(direction=word.strip()), "PL")
    assert outcome.call is not None
    assert ami_direction == outcome.call.direction == expected


def test_an_unknown_direction_word_names_no_direction() -> None:
    assert direction_of("sideways") is None
    assert direction_of("") is None
