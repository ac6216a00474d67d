"""Replay of the real Asterisk recordings: exactly the expected calls, in both AMI user variants."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import FIXTURES
from typer.testing import CliRunner

from pbx_sms.ami.parser import AmiMessage, parse_stream
from pbx_sms.ami.replay import replay_calls, replay_chunks
from pbx_sms.ami.tracker import WANTED_EVENTS, CallTracker, TrackerConfig
from pbx_sms.cli.main import app
from pbx_sms.core.call import CompletedCall

VARIANTS = ("all", "callcdr")
REPLAY_KEYS = {
    "call_id",
    "direction",
    "number",
    "other_party",
    "status",
    "talk_s",
    "started_at",
    "ended_at",
    "evidence",
}
EXACT_KEYS = ("direction", "number", "other_party", "status")


def _expected() -> dict[str, list[dict[str, Any]]]:
    by_recording: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with (FIXTURES / "expected.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            call = json.loads(line)
            by_recording[call["recording"]].append(call)
    return dict(by_recording)


EXPECTED = _expected()


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _mismatches(got: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Differences beyond what the recordings' README allows (±1 s on talk time and times)."""
    problems = [f"{key}: {got[key]!r} != {expected[key]!r}" for key in EXACT_KEYS if got[key] != expected[key]]
    if abs(got["talk_s"] - expected["talk_s"]) > 1:
        problems.append(f"talk_s: {got['talk_s']} != {expected['talk_s']}")
    for key in ("started_at", "ended_at"):
        if abs(_epoch(got[key]) - _epoch(expected[key])) > 1:
            problems.append(f"{key}: {got[key]} != {expected[key]}")
    return problems


def test_every_recording_has_both_variants() -> None:
    assert len(EXPECTED) >= 19
    for recording in EXPECTED:
        for variant in VARIANTS:
            assert (FIXTURES / f"{recording}.{variant}.ami").is_file()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("recording", sorted(EXPECTED))
def test_recording_gives_exactly_the_expected_calls(recording: str, variant: str) -> None:
    calls = [call.to_json() for call in replay_calls(FIXTURES / f"{recording}.{variant}.ami", TrackerConfig())]
    got = {call["call_id"]: call for call in calls}
    assert len(got) == len(calls), "a call was emitted twice"
    expected = {call["call_id"]: call for call in EXPECTED[recording]}
    assert set(got) == set(expected)
    problems = {call_id: _mismatches(got[call_id], expected[call_id]) for call_id in expected}
    assert {call_id: found for call_id, found in problems.items() if found} == {}


@pytest.mark.parametrize(
    "recording",
    ["in_queue", "in_ringgroup", "sip_in_queue", "busy_hour", "shared_in_blind_xfer", "shared_in_attended_xfer"],
)
def test_both_variants_give_identical_calls(recording: str) -> None:
    config = TrackerConfig()
    everything = [call.to_json() for call in replay_calls(FIXTURES / f"{recording}.all.ami", config)]
    least_privilege = [call.to_json() for call in replay_calls(FIXTURES / f"{recording}.callcdr.ami", config)]
    assert everything == least_privilege


@pytest.mark.parametrize("recording", sorted(EXPECTED))
def test_both_variants_feed_the_tracker_the_same_events(recording: str) -> None:
    # The skip list keeps only events a read=call,cdr user receives too (the order may differ a
    # little: the two AMI sessions interleave simultaneous events differently).
    def wanted(variant: str) -> Counter[str]:
        data = (FIXTURES / f"{recording}.{variant}.ami").read_bytes()
        return Counter(message.event or "" for message in parse_stream(data, WANTED_EVENTS))

    everything, least_privilege = wanted("all"), wanted("callcdr")
    assert everything == least_privilege
    assert everything["Hangup"] > 0


def test_nothing_is_left_behind_after_the_busy_hour() -> None:
    tracker = CallTracker(TrackerConfig())
    messages = parse_stream((FIXTURES / "busy_hour.callcdr.ami").read_bytes(), WANTED_EVENTS)
    before_flush = [call for message in messages for call in tracker.feed(message, _stamp(message))]
    # Calls are emitted as their grace period passes; only the last one is still waiting at the end.
    assert len(before_flush) == len(EXPECTED["busy_hour"]) - 1
    assert len(tracker.flush()) == 1
    assert (tracker.open_calls, tracker.tracked_channels, tracker.tracked_bridges) == (0, 0, 0)
    assert (tracker.completed, tracker.dropped, tracker.stats.orphan_cdrs) == (40, 0, 0)


def _stamp(message: AmiMessage) -> float:
    return float(message.fields.get("Timestamp", "0"))


@pytest.mark.parametrize("grace_s", [0.0, 5.0, 120.0])
def test_the_grace_period_does_not_change_the_calls(grace_s: float) -> None:
    path = FIXTURES / "busy_hour.all.ami"
    default = sorted(json.dumps(call.to_json()) for call in replay_calls(path, TrackerConfig()))
    other = sorted(json.dumps(call.to_json()) for call in replay_calls(path, TrackerConfig(cdr_grace_s=grace_s)))
    assert other == default


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("recording", sorted(EXPECTED))
def test_without_the_channel_variables_contexts_and_parties_decide(recording: str, variant: str) -> None:
    # A PBX without manager.conf channelvars (or without the dialplan snippet).
    data = (FIXTURES / f"{recording}.{variant}.ami").read_bytes()
    stripped = re.sub(rb"(?m)^[A-Za-z]*ChanVariable[^\r\n]*\r\n", b"", data)
    assert b"ChanVariable" not in stripped
    got = {call.call_id: call.to_json() for call in replay_calls(stripped, TrackerConfig())}
    expected = {call["call_id"]: call for call in EXPECTED[recording]}
    assert set(got) == set(expected)
    problems = {call_id: _mismatches(got[call_id], expected[call_id]) for call_id in expected}
    assert {call_id: found for call_id, found in problems.items() if found} == {}


def test_bytes_and_path_give_the_same_calls() -> None:
    path = FIXTURES / "in_polish_name.all.ami"
    from_path = list(replay_calls(path, TrackerConfig()))
    assert from_path == list(replay_calls(path.read_bytes(), TrackerConfig()))
    assert len(from_path) == 1


def test_a_recording_without_timestamps_is_dated_by_the_replay_start() -> None:
    data = (FIXTURES / "in_answered.callcdr.ami").read_bytes()
    stripped = b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"Timestamp: "))
    assert b"Timestamp" not in stripped
    (call,) = replay_calls(stripped, TrackerConfig(), start_s=1_800_000_000.5)
    assert (call.call_id, call.direction, call.other_party, call.status) == (
        "1795574695.4",
        "in",
        "+48601234567",
        "answered",
    )
    # No clock but the replay's own: every event happens at its start.
    assert call.started_at.timestamp() == call.ended_at.timestamp() == 1_800_000_000
    assert call.talk_s == 0


def _calls_of_chunks(data: bytes, cuts: list[int]) -> list[CompletedCall]:
    bounds = [0, *sorted(set(cuts)), len(data)]
    chunks = [data[start:end] for start, end in pairwise(bounds)]
    return list(replay_chunks(chunks, TrackerConfig()))


SPLIT_RECORDINGS = ("in_queue.callcdr.ami", "in_polish_name.all.ami", "sip_in_queue.all.ami")
WHOLE = {name: list(replay_calls(FIXTURES / name, TrackerConfig())) for name in SPLIT_RECORDINGS}
DATA = {name: (FIXTURES / name).read_bytes() for name in SPLIT_RECORDINGS}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SPLIT_RECORDINGS),
    cut_fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=40),
    tiny_pieces=st.booleans(),
)
def test_any_split_into_chunks_gives_the_same_calls(name: str, cut_fractions: list[float], tiny_pieces: bool) -> None:
    data = DATA[name]
    cuts = [int(fraction * len(data)) for fraction in cut_fractions]
    if tiny_pieces and cuts:
        # Also split right around one point byte by byte (CRLF and multi-byte UTF-8 boundaries).
        cuts += list(range(cuts[0], min(cuts[0] + 12, len(data))))
    assert _calls_of_chunks(data, cuts) == WHOLE[name]


# ---- the command ----------------------------------------------------------------------------


def test_replay_calls_command_prints_one_json_object_per_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PBX_SMS_DATABASE_URL", f"sqlite:///{tmp_path}/must-not-exist.db")
    monkeypatch.delenv("PBX_SMS_CONFIG", raising=False)
    monkeypatch.setenv("PBX_SMS_PBX_NAME", "pbx-warsaw")
    result = CliRunner().invoke(app, ["replay", str(FIXTURES / "in_ringgroup.callcdr.ami"), "--calls"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    call = json.loads(lines[0])
    assert set(call) == REPLAY_KEYS | {"pbx"}
    # The Linkedid, and the PBX it is known on: the call is (pbx, call_id).
    assert (call["pbx"], call["call_id"]) == ("pbx-warsaw", "1795574801.24")
    assert isinstance(call["talk_s"], int)
    assert call["started_at"].endswith("+00:00") and call["ended_at"].endswith("+00:00")
    assert datetime.fromisoformat(call["ended_at"]) >= datetime.fromisoformat(call["started_at"])
    assert list(tmp_path.iterdir()) == []  # no database, no outbox, nothing written


def test_replay_of_a_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ami"
    result = CliRunner().invoke(app, ["replay", str(missing), "--calls"])
    assert result.exit_code == 1
    assert str(missing) in result.stderr
    assert "no such file" in result.stderr


SMS_RULES = """
account: default
rules:
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered]}
    then: {sender: ACME, to: [other_party], text: "Thanks for calling {number}", delay_s: 30}
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer, busy]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed you"}
"""


def test_replay_without_calls_prints_the_sms_the_database_rules_would_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PBX_SMS_DATABASE_URL", f"sqlite:///{tmp_path}/pbx-sms.db")
    monkeypatch.delenv("PBX_SMS_CONFIG", raising=False)
    rules = tmp_path / "rules.yaml"
    rules.write_text(SMS_RULES, encoding="utf-8")
    for command in (["senders", "add", "ACME"], ["rules", "import", str(rules)]):
        assert CliRunner().invoke(app, command).exit_code == 0
    result = CliRunner().invoke(app, ["replay", str(FIXTURES / "in_answered.callcdr.ami")])
    assert result.exit_code == 0, result.output
    [sms] = [json.loads(line) for line in result.stdout.splitlines()]
    [expected] = EXPECTED["in_answered"]
    assert sms["call_id"] == expected["call_id"]
    assert (sms["rule"], sms["to"], sms["reason"]) == ("Thanks", expected["other_party"], None)
    assert sms["text"] == f"Thanks for calling {expected['number']}"
    due = datetime.fromisoformat(sms["due_at"]) - datetime.fromisoformat(expected["ended_at"])
    assert abs(due.total_seconds() - 30) <= 1.5
    with sqlite3.connect(tmp_path / "pbx-sms.db") as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM calls").fetchone() == (0,)


def test_replay_of_something_that_is_not_an_ami_stream_says_where(tmp_path: Path) -> None:
    bogus = tmp_path / "calls.json"
    bogus.write_text('{"not": "ami"}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["replay", str(bogus), "--calls"])
    assert result.exit_code == 1
    assert f"{bogus}: line 1: expected the AMI banner" in result.stderr
    assert result.stdout == ""


def test_a_capture_without_the_banner_is_accepted(tmp_path: Path) -> None:
    data = (FIXTURES / "sip_int_busy.callcdr.ami").read_bytes()
    headless = tmp_path / "headless.ami"
    headless.write_bytes(data.split(b"\r\n", 1)[1])
    result = CliRunner().invoke(app, ["replay", str(headless), "--calls"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["other_party"] == "202"
