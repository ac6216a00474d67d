"""AmiStreamParser on hostile input: control characters never survive parsing, a message in tiny reads
costs linear time, and a stream that never ends a message holds bounded memory."""

from __future__ import annotations

import logging
import time

import pytest
from paths import FIXTURES

from pbx_sms.ami.parser import AmiStreamParser, parse_stream
from pbx_sms.ami.tracker import WANTED_EVENTS

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
CDR = b"Event: Cdr\r\nUniqueID: 1.1\r\nDisposition: ANSWERED\r\n\r\n"


def test_a_bare_line_feed_in_a_value_does_not_survive_as_a_line_break() -> None:
    # The caller ID a caller chose, trying to forge a log line.
    forged = b"Event: Newchannel\r\nCallerIDNum: 123\n2026-12-01 ERROR forged line\r\nUniqueid: 1.1\r\n\r\n"
    (message,) = AmiStreamParser().feed(BANNER + forged)
    assert message.get("CallerIDNum") == "123\\n2026-12-01 ERROR forged line"
    assert message.get("Uniqueid") == "1.1"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),  # ESC: terminal control sequences
        (b"ring\x07", "ring\\x07"),  # BEL
        (b"a\x00b", "a\\x00b"),  # NUL (PostgreSQL refuses it in text)
        (b"a\rb", "a\\rb"),  # a bare CR: overwrites the line on a terminal
        (b"tab\there", "tab\\there"),
        (b"\x7f\xc2\x9b", "\\x7f\\x9b"),  # DEL, and CSI as a C1 control character
        (b"\xe2\x80\xa8x", "\\u2028x"),  # LINE SEPARATOR, a line break to some log viewers
        ("Łukasz Żółć".encode(), "Łukasz Żółć"),  # letters stay
    ],
)
def test_control_characters_in_values_are_escaped(raw: bytes, shown: str) -> None:
    (message,) = AmiStreamParser().feed(BANNER + b"Event: Newchannel\r\nCallerIDName: " + raw + b"\r\n\r\n")
    assert message.get("CallerIDName") == shown


def test_control_characters_in_keys_channel_variables_and_the_banner_are_escaped() -> None:
    data = b"Asterisk Call Manager/11\x1b[0m\r\nEvent: Hangup\r\nX\x07Key: v\r\nChanVariable: PBXSMS_OTHER=1\n2\r\n\r\n"
    parser = AmiStreamParser()
    (message,) = parser.feed(data)
    assert parser.banner == "11\\x1b[0m"
    assert message.get("X\\x07Key") == "v"
    assert message.chan_vars == {"PBXSMS_OTHER": "1\\n2"}


def test_recordings_parse_identically_without_control_characters() -> None:
    # Asterisk ends every line with CR LF: the recordings have no control character to escape.
    for path in sorted(FIXTURES.glob("*.ami")):
        for message in parse_stream(path.read_bytes()):
            for key, value in message.fields.items():
                assert "\\x" not in key + value and "\\n" not in key + value, (path.name, key, value)


def per_byte_cpu_s(size: int, read_bytes: int) -> float:
    data = BANNER + b"Event: Hangup\r\nCallerIDName: " + b"X" * size + b"\r\n\r\n"
    parser = AmiStreamParser(WANTED_EVENTS, max_message_bytes=2 * size)
    started = time.process_time()
    messages = [m for start in range(0, len(data), read_bytes) for m in parser.feed(data[start : start + read_bytes])]
    elapsed = time.process_time() - started
    assert len(messages) == 1
    return elapsed / size


def test_a_message_in_tiny_reads_costs_linear_time() -> None:
    small = min(per_byte_cpu_s(16_000, 16) for _ in range(3))
    large = min(per_byte_cpu_s(256_000, 16) for _ in range(2))
    # Re-scanning (and copying) the whole buffer on every read made 16x the size cost ~16x per byte.
    assert large < small * 4, (small, large)


def test_a_stream_that_never_ends_a_message_holds_bounded_memory_logs_and_resyncs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parser = AmiStreamParser(max_message_bytes=10_000)
    parser.feed(BANNER)
    line = b"Garbage: " + b"y" * 60 + b"\r\n"
    largest = 0
    with caplog.at_level(logging.WARNING, "pbx_sms.ami.parser"):
        for _ in range(2_000):  # 140 kB, 14 times the bound, in 70-byte reads
            assert parser.feed(line) == []
            largest = max(largest, parser.buffered_bytes)
        messages = parser.feed(b"\r\n" + CDR)
    assert largest <= 10_000 + len(line)
    assert parser.stats.oversized == 1
    assert "AMI message over 10000 bytes" in caplog.text
    assert [m.event for m in messages] == ["Cdr"]  # the garbage's end dropped, the next message read


def test_a_banner_without_a_line_end_is_not_waited_for_forever() -> None:
    parser = AmiStreamParser(max_message_bytes=10_000)
    for _ in range(1_000):
        parser.feed(b"Asterisk Call Manager/" + b"9" * 100)
    assert parser.buffered_bytes <= 10_000 + 200
    assert parser.banner is None
