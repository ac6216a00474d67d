"""Recognising an Asterisk restart from the Uniqueid numbering."""

from __future__ import annotations

import pytest

from pbx_sms.ami.restart import RestartDetector, uniqueid_sequence


@pytest.mark.parametrize(
    ("seen", "new", "restarted"),
    [
        ([5, 120], 3, True),  # numbered from the start again
        ([200], 149, True),  # 50 below the highest: never a late announcement
        ([200], 160, False),  # a little out of order under load
        ([19], 1, True),  # early in Asterisk's life: a smaller fall into the lower half
        ([3], 1, False),
        ([19], 12, False),
    ],
)
def test_a_new_channel_numbered_far_below_those_seen_means_a_restart(
    seen: list[int], new: int, restarted: bool
) -> None:
    detector = RestartDetector()
    assert not any(detector.new_channel(f"1795000000.{sequence}") for sequence in seen)
    detector.connection_lost()
    assert detector.new_channel(f"1795000100.{new}") is restarted
    # After a restart the numbering goes on from the new channel.
    assert detector.highest_sequence == (new if restarted else max(seen))


def test_uniqueids_with_a_system_name_and_without_a_sequence() -> None:
    assert uniqueid_sequence("pbx1-1795000000.42") == 42
    assert uniqueid_sequence("no-sequence") is None
    detector = RestartDetector()
    assert not detector.new_channel("no-sequence")
    assert detector.highest_sequence is None


def test_only_the_first_new_channel_after_a_lost_connection_is_judged() -> None:
    detector = RestartDetector()
    assert not detector.new_channel("1795000000.120")
    # Recordings merged into one stream, or a late announcement: no lost connection, no restart.
    assert not detector.new_channel("1795000000.4")
    detector.connection_lost()
    assert not detector.new_channel("1795000000.121")  # the numbering went on: Asterisk kept running
    assert not detector.new_channel("1795000000.2")
    assert detector.highest_sequence == 121
