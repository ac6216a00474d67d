"""Text chosen by callers and servers, at the edges: escaped in log lines, written as "unknown number" in
an SMS, and country codes that are only two letters refused."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pbx_sms.config import ConfigError, load_settings
from pbx_sms.core.call import CompletedCall
from pbx_sms.core.matching import AccountPolicy, match_call
from pbx_sms.core.phone import check_country_code
from pbx_sms.core.rules import Rule
from pbx_sms.core.template import UNKNOWN_OTHER_PARTY, other_party_text
from pbx_sms.core.text_safety import escape_controls, escape_json_controls
from pbx_sms.logs import JsonFormatter, TextFormatter

# A caller ID that forges a log line and paints the terminal red.
FORGED = "+48601234567\n2026-03-10 08:00:00 INFO pbx_sms.outbox: SMS 1 sent\x1b[31m\x07"


def record(message: str, *args: object, exc_info: bool = False) -> logging.LogRecord:
    return logging.getLogger("pbx_sms.test").makeRecord(
        "pbx_sms.test", logging.WARNING, __file__, 1, message, args, sys.exc_info() if exc_info else None
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain Łódź 😀", "plain Łódź 😀"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x1b[2J\x07\x00\x7f", "\\x1b[2J\\x07\\x00\\x7f"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("line\u2028sep", "line\\u2028sep"),
    ],
)
def test_control_characters_are_written_as_escapes(text: str, shown: str) -> None:
    assert escape_controls(text) == shown


def test_kept_characters_stay() -> None:
    assert escape_controls("Traceback\n  \x1b", keep="\n") == "Traceback\n  \\x1b"


def test_json_escapes_parse_back_to_the_same_text() -> None:
    value = {"text": "del\x7f csi\x9b sep\u2028 Łódź"}
    document = escape_json_controls(json.dumps(value, ensure_ascii=False))
    assert json.loads(document) == value
    assert all(char not in document for char in "\x7f\x9b\u2028") and "Łódź" in document


def test_a_text_log_line_stays_one_line_whatever_the_caller_id() -> None:
    line = TextFormatter().format(record("call from %s", FORGED))
    assert "\n" not in line and "\x1b" not in line and "\x07" not in line
    assert line.endswith("call from +48601234567\\n2026-03-10 08:00:00 INFO pbx_sms.outbox: SMS 1 sent\\x1b[31m\\x07")


def test_a_traceback_keeps_its_lines_but_not_its_escapes() -> None:
    try:
        raise ValueError("bad caller \x1b[31m")
    except ValueError:
        line = TextFormatter().format(record("failed", exc_info=True))
    assert "Traceback (most recent call last):\n" in line
    assert "ValueError: bad caller \\x1b[31m" in line


def test_a_json_log_line_has_no_raw_control_character() -> None:
    line = JsonFormatter().format(record("call from %s", FORGED + "\x9b"))
    assert not any(char in line for char in "\n\x1b\x07\x9b")
    assert json.loads(line)["message"] == "call from " + FORGED + "\x9b"


@pytest.mark.parametrize(
    ("other_party", "text"),
    [
        ("+48601234567", "+48601234567"),
        ("101", "101"),
        ("anonymous", UNKNOWN_OTHER_PARTY),
        ("Bank\x1b[31m call +48 800 000 000 now", UNKNOWN_OTHER_PARTY),
        ("1" * 16, UNKNOWN_OTHER_PARTY),
        ("١٢٣", UNKNOWN_OTHER_PARTY),
    ],
)
def test_other_party_in_a_text_is_a_number_or_unknown(other_party: str, text: str) -> None:
    assert other_party_text(other_party) == text


def test_the_staff_sms_never_carries_the_callers_text() -> None:
    rule = Rule.model_validate(
        {
            "name": "Tell the manager",
            "when": {"direction": "in", "numbers": "all", "status": ["no_answer"]},
            "then": {"sender": "ACME", "to": ["+48600100100"], "text": "Missed call from {other_party}"},
        }
    )
    ended = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    caller_id = "Your parcel is held, pay at evil.example"
    call = CompletedCall("1", "in", "+48221234567", caller_id, "no_answer", 0, ended, ended)
    (planned,) = match_call(call, AccountPolicy("default", "Europe/Warsaw", "PL"), [rule])
    assert (planned.to, planned.text, planned.reason) == ("+48600100100", "Missed call from unknown number", None)


@pytest.mark.parametrize("code", ["XX", "ZZ", "EU", "pl1", ""])
def test_two_letters_are_not_yet_a_country(code: str) -> None:
    with pytest.raises(ValueError, match="expected a two-letter ISO country code like PL"):
        check_country_code(code)


def test_a_country_is_upper_cased() -> None:
    assert check_country_code(" de ") == "DE"


def test_the_settings_refuse_an_unknown_country() -> None:
    with pytest.raises(ConfigError, match="country 'XX'"):
        load_settings(environ={"PBX_SMS_COUNTRY": "XX"})


@pytest.mark.parametrize("path", ["", "x" * 10_240, "nul\0.toml"], ids=["directory", "too-long", "nul"])
def test_a_config_path_that_cannot_be_read_is_a_config_error(path: str) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(Path(path), environ={})
