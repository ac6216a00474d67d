"""AmiStreamParser: bytes in any chunking → the same messages; junk is counted and skipped."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from paths import FIXTURES

from pbx_sms.ami.parser import AmiStreamParser, parse_stream

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
HANGUP = (
    b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/201-00000001\r\nCallerIDName: \xc5\x81ukasz\r\n"
    b"Uniqueid: 1.1\r\nLinkedid: 1.1\r\nChanVariable: PBXSMS_DIRECTION=in\r\nChanVariable: PBXSMS_DID=+48221234567\r\n"
    b"Cause: 16\r\n\r\n"
)
CDR = b"Event: Cdr\r\nUniqueID: 1.1\r\nDisposition: ANSWERED\r\nUserField: \r\n\r\n"
VARSET = b"Event: VarSet\r\nVariable: X\r\nValue: 1\r\n\r\n"
LOGIN_OK = b"Response: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\n"
STREAM = BANNER + LOGIN_OK + HANGUP + VARSET + CDR


def fields_of(parser: AmiStreamParser, chunks: list[bytes]) -> list[dict[str, str]]:
    return [message.fields for chunk in chunks for message in parser.feed(chunk)]


def test_messages_fields_chan_vars_and_trailing_empty_header() -> None:
    parser = AmiStreamParser()
    login, hangup, varset, cdr = parser.feed(STREAM)
    assert parser.banner == "11.0.0"
    assert login.fields == {"Response": "Success", "ActionID": "1", "Message": "Authentication accepted"}
    assert hangup.event == "Hangup"
    assert hangup.get("CallerIDName") == "Łukasz"
    assert hangup.chan_vars == {"PBXSMS_DIRECTION": "in", "PBXSMS_DID": "+48221234567"}
    assert varset.event == "VarSet"
    assert cdr.fields["UserField"] == ""


def test_every_two_way_split_gives_the_same_messages() -> None:
    whole = fields_of(AmiStreamParser(), [STREAM])
    for cut in range(len(STREAM) + 1):
        assert fields_of(AmiStreamParser(), [STREAM[:cut], STREAM[cut:]]) == whole, cut


def test_byte_by_byte_gives_the_same_messages() -> None:
    parser = AmiStreamParser()
    assert fields_of(parser, [STREAM[i : i + 1] for i in range(len(STREAM))]) == fields_of(AmiStreamParser(), [STREAM])
    assert parser.banner == "11.0.0"


def test_unwanted_events_are_skipped_responses_kept() -> None:
    parser = AmiStreamParser(wanted_events={"Hangup"})
    messages = parser.feed(STREAM)
    assert [m.event or m.get("Response") for m in messages] == ["Success", "Hangup"]
    assert parser.stats.skipped == 2


def test_oversized_message_spanning_many_reads_is_counted_once_and_the_stream_resyncs() -> None:
    parser = AmiStreamParser(max_message_bytes=1000)
    parser.feed(BANNER)
    huge = b"Event: Hangup\r\nX-Huge: " + b"A" * 50_000 + b"\r\n\r\n"
    data = huge + CDR
    messages = []
    for start in range(0, len(data), 1500):  # reads larger than the limit
        messages.extend(parser.feed(data[start : start + 1500]))
    assert parser.stats.oversized == 1
    assert [m.event for m in messages] == ["Cdr"]


def test_oversized_message_arriving_whole_is_dropped() -> None:
    parser = AmiStreamParser(max_message_bytes=1000)
    huge = b"Event: Hangup\r\nX-Huge: " + b"A" * 5000 + b"\r\n\r\n"
    messages = parser.feed(BANNER + huge + CDR)
    assert parser.stats.oversized == 1
    assert [m.event for m in messages] == ["Cdr"]


def test_garbage_and_invalid_utf8_do_not_stop_parsing() -> None:
    parser = AmiStreamParser()
    junk = b"no colon here\r\n\x00\x01\r\n\r\n"
    broken = b"Event: Newstate\r\nCallerIDName: \xff\xfe broken \xe2\x82\r\nUniqueid: 2.2\r\n\r\n"
    messages = parser.feed(BANNER + junk + broken + CDR)
    assert parser.stats.malformed_lines == 1
    assert [m.event for m in messages] == ["Newstate", "Cdr"]
    assert messages[0].get("Uniqueid") == "2.2"
    assert "broken" in messages[0].get("CallerIDName")


def test_reset_forgets_a_partial_message() -> None:
    parser = AmiStreamParser()
    parser.feed(BANNER + HANGUP[:40])
    parser.reset()
    assert [m.event for m in parser.feed(BANNER + CDR)] == ["Cdr"]


RECORDING = (FIXTURES / "in_polish_name.callcdr.ami").read_bytes()
RECORDING_FIELDS = [m.fields for m in parse_stream(RECORDING)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(RECORDING) - 1), max_size=40))
def test_any_chunking_of_a_recording_gives_the_same_messages(cuts: list[int]) -> None:
    offsets = [0, *sorted(set(cuts)), len(RECORDING)]
    chunks = [RECORDING[a:b] for a, b in itertools.pairwise(offsets)]
    assert fields_of(AmiStreamParser(), chunks) == RECORDING_FIELDS
