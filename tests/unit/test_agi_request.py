"""Reading one AGI request (pbx_sms.hangup.request) and deciding who may send one (pbx_sms.fastagi.access):
the pure parts both hangup hooks share."""

from __future__ import annotations

import ipaddress

import pytest
from fake_asterisk import agi_values, environment_lines
from hypothesis import given
from hypothesis import strategies as st

from pbx_sms.fastagi.access import peer_address, peer_allowed, secret_matches, split_script_path
from pbx_sms.hangup.arguments import ARGUMENT_NAMES
from pbx_sms.hangup.mapping import map_call, parse_arguments
from pbx_sms.hangup.request import (
    MAX_ARGUMENT_CHARS,
    MAX_ENV_LINES,
    MAX_LINE_BYTES,
    MAX_REQUEST_BYTES,
    MAX_VERBOSE_CHARS,
    AgiRequestError,
    EnvironmentReader,
    outcome_of_request,
    parse_environment,
    verbose_command,
)


def read(raw_lines: list[bytes]) -> dict[str, str]:
    reader = EnvironmentReader()
    for raw in raw_lines:
        if reader.feed(raw):
            return reader.environment()
    reader.feed(b"")
    raise AssertionError("unreachable: feed(b'') raises")


def env_of(args: list[str], **extra: str) -> dict[str, str]:
    return parse_environment(environment_lines(args)) | extra


# --- the environment ----------------------------------------------------------------------------


def test_a_request_as_asterisk_writes_it_is_read_whole() -> None:
    lines = [f"{line}\n".encode() for line in ["agi_network: yes", *environment_lines(agi_values())]]
    env = read([*lines, b"\n"])
    assert env["agi_network"] == "yes" and env["agi_arg_12"] == "602345678" and env["agi_accountcode"] == ""


def test_a_crlf_empty_line_also_ends_the_request() -> None:
    assert read([b"agi_arg_1: x\n", b"\r\n"]) == {"agi_arg_1": "x"}


@pytest.mark.parametrize(
    ("raw_lines", "message", "ended"),
    [
        ([b"agi_arg_1: x\n"], "ended after 1 environment lines, before the empty line", True),
        ([b"agi_arg_1: x\n", b"agi_ar"], "ended in the middle of AGI environment line 2", True),
        ([b"a" * (MAX_LINE_BYTES + 1)], f"line 1 is longer than {MAX_LINE_BYTES} bytes", False),
        ([b"agi_x: y\n"] * (MAX_ENV_LINES + 1), f"more than {MAX_ENV_LINES} lines", False),
        ([b"agi_x: " + b"y" * 8000 + b"\n"] * 9, f"larger than {MAX_REQUEST_BYTES} bytes", False),
    ],
    ids=["eof", "eof-mid-line", "long-line", "many-lines", "large"],
)
def test_the_reader_bounds_every_request(raw_lines: list[bytes], message: str, ended: bool) -> None:
    reader = EnvironmentReader()
    with pytest.raises(AgiRequestError, match=message):
        for raw in [*raw_lines, b""]:
            reader.feed(raw)
    assert reader.ended is ended


def test_undecodable_bytes_are_replaced_not_fatal() -> None:
    assert read([b"agi_arg_1: caf\xe9\n", b"\n"]) == {"agi_arg_1": "caf\ufffd"}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["agi_arg_1: a", "nonsense"], "line 2 is not 'agi_name: value'"),
        (["agi_request: x", "AGI_CHANNEL: y"], "line 2 is not 'agi_name: value'"),
        (["agi_arg_1: a", "agi_arg_1: b"], "line 2: agi_arg_1 given twice"),
        (["agi_arg_1: a", "agi_arg_3: c"], "line 2: agi_arg_3 where agi_arg_2 was due"),
        (["agi_arg_2: b"], "line 1: agi_arg_2 where agi_arg_1 was due"),
        (["agi_arg_1: a", "agi_callerid: 1"], "line 2: agi_callerid after the arguments"),
        (["agi_callerid: 1", "agi_callerid: 2"], "line 2: agi_callerid given twice"),
    ],
)
def test_what_asterisk_never_writes_is_refused(lines: list[str], message: str) -> None:
    with pytest.raises(AgiRequestError, match=message):
        parse_environment(lines)


def test_a_line_break_in_an_argument_cannot_override_an_earlier_one() -> None:
    # The dialplan's ${PBXSMS_DID} holding "x\nagi_arg_2: out": res_agi.c writes it as two lines.
    lines = "\n".join(environment_lines(agi_values(did="+48221234567\nagi_arg_2: out"))).split("\n")
    with pytest.raises(AgiRequestError, match="agi_arg_2 given twice"):
        parse_environment(lines)


# --- the arguments --------------------------------------------------------------------------------


def test_a_good_request_maps_as_the_arguments_say() -> None:
    args = agi_values()
    outcome = outcome_of_request(env_of(args), "PL", 5)
    assert outcome == map_call(parse_arguments(args, channel_caller="602345678"), "PL", 5)
    assert outcome.call is not None and outcome.call.status == "answered"


@pytest.mark.parametrize("name", ARGUMENT_NAMES)
def test_every_argument_is_bounded(name: str) -> None:
    outcome = outcome_of_request(env_of(agi_values(**{name: "1" * (MAX_ARGUMENT_CHARS + 1)})), "PL", 5)
    assert outcome.call is None
    assert outcome.reason == f"{name} is {MAX_ARGUMENT_CHARS + 1} characters long, more than {MAX_ARGUMENT_CHARS}"


def test_the_rejoined_caller_id_is_bounded_as_a_whole() -> None:
    args = [*agi_values()[:-1], *(["1" * 200] * 3)]  # Asterisk split "111…,111…,111…" on its commas
    outcome = outcome_of_request(env_of(args), "PL", 5)
    assert outcome.call is None and outcome.reason.startswith("other_party is 602 characters long")


def test_the_channel_caller_id_is_bounded_too() -> None:
    env = env_of(agi_values(), agi_callerid="6" * 1000)
    assert outcome_of_request(env, "PL", 5).reason.startswith("agi_callerid is 1000 characters long")


@pytest.mark.parametrize("line_break", ["\r", "\v", "\f", "\x85", "\u2028", "\u2029"])
def test_arguments_with_line_breaks_are_refused(line_break: str) -> None:
    outcome = outcome_of_request(env_of(agi_values(other_party=f"602{line_break}345")), "PL", 5)
    assert (outcome.call, outcome.reason) == (None, "other_party contains a line break")


def test_too_few_arguments_say_the_dialplan_is_outdated() -> None:
    outcome = outcome_of_request(env_of(["1.1", "in"]), "PL", 5)
    assert outcome.call is None and "expected 12 AGI arguments" in outcome.reason


# --- the VERBOSE line -------------------------------------------------------------------------------


def asterisk_parse_args(command: str) -> list[str]:
    """res_agi.c's parse_args, ported: how Asterisk splits a command line into words."""
    words: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for char in command:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and current is None:
                current = []
            continue
        if char in " \t" and not quoted and not escaped:
            if current is not None:
                words.append("".join(current))
            current = None
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if current is None:
            current = []
        current.append(char)
        escaped = False
    if current is not None:
        words.append("".join(current))
    return words


@given(st.text(max_size=300))
def test_any_text_is_one_command_asterisk_reads_back_as_its_visible_form(text: str) -> None:
    command = verbose_command(text, 3)
    assert command.endswith("\n") and command.count("\n") == 1
    words = asterisk_parse_args(command[:-1])
    assert words[0] == "VERBOSE" and words[-1] == "3" and len(words) == 3
    shown = words[1]
    assert not any(ord(char) < 0x20 or ord(char) == 0x7F for char in shown)
    if text.isprintable():
        assert shown == text


def test_control_characters_are_shown_escaped() -> None:
    command = verbose_command('a\x1b[2Jb\x00c\nd"e\\f\u2028', 1)
    assert asterisk_parse_args(command[:-1])[1] == 'a\\x1b[2Jb\\x00c\\x0ad"e\\f\\u2028'


def test_the_verbose_line_is_bounded() -> None:
    shown = asterisk_parse_args(verbose_command("x" * 5000, 1)[:-1])[1]
    assert len(shown) == MAX_VERBOSE_CHARS and shown.endswith("...")


# --- who may report ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peername", "expected"),
    [
        (("127.0.0.1", 40000), "127.0.0.1"),
        (("::1", 40000, 0, 0), "::1"),
        (("::ffff:192.0.2.7", 40000, 0, 0), "192.0.2.7"),
        (("fe80::1%eth0", 40000, 0, 2), "fe80::1"),
        ("/run/agi.sock", None),
        (None, None),
        (("not-an-address", 1), None),
    ],
)
def test_the_peer_address_is_read_from_any_socket(peername: object, expected: str | None) -> None:
    address = peer_address(peername)
    assert (str(address) if address is not None else None) == expected


@pytest.mark.parametrize(
    ("peer", "allow", "allowed"),
    [
        ("127.0.0.1", [], True),
        ("127.9.9.9", [], True),
        ("::1", [], True),
        ("192.0.2.7", [], False),
        ("192.0.2.7", ["192.0.2.0/24"], True),
        ("192.0.2.7", ["198.51.100.0/24"], False),
        ("127.0.0.1", ["192.0.2.0/24"], False),  # a list replaces "loopback only"
        ("2001:db8::7", ["192.0.2.0/24", "2001:db8::/32"], True),
        ("2001:db8::7", ["192.0.2.0/24"], False),
    ],
)
def test_only_listed_networks_or_else_loopback_may_report(peer: str, allow: list[str], allowed: bool) -> None:
    networks = [ipaddress.ip_network(network) for network in allow]
    assert peer_allowed(ipaddress.ip_address(peer), networks) is allowed


def test_an_unknown_peer_is_never_allowed() -> None:
    assert not peer_allowed(None, [])


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pbx-sms-hangup", ("pbx-sms-hangup", "")),
        ("pbx-sms-hangup/s3cr3t", ("pbx-sms-hangup", "s3cr3t")),
        ("pbx-sms-hangup/a/b", ("pbx-sms-hangup", "a/b")),
        ("", ("", "")),
    ],
)
def test_the_script_path_carries_the_secret(script: str, expected: tuple[str, str]) -> None:
    assert split_script_path(script) == expected


def test_secrets_match_only_exactly() -> None:
    assert secret_matches("0123456789abcdef", "0123456789abcdef")
    for given_secret in ("0123456789abcdeF", "0123456789abcde", "0123456789abcdef0", ""):
        assert not secret_matches(given_secret, "0123456789abcdef")


def line_by_line(data: bytes) -> dict[str, str] | str:
    reader = EnvironmentReader()
    try:
        lines = data.split(b"\n")
        for line in lines[:-1]:
            if reader.feed(line + b"\n"):
                return reader.environment()
        reader.feed(lines[-1])
        reader.feed(b"")
    except AgiRequestError as exc:
        return str(exc)
    raise AssertionError("unreachable")


def all_at_once(data: bytes) -> dict[str, str] | str:
    try:
        return EnvironmentReader().feed_request(data)
    except AgiRequestError as exc:
        return str(exc)


GOOD = ("\n".join(environment_lines(agi_values())) + "\n\n").encode()


@pytest.mark.parametrize(
    "data",
    [
        GOOD,
        GOOD.replace(b"\n\n", b"\r\n\r\n"),
        GOOD[:-1],
        GOOD[:100],
        b"\n",
        b"",
        b"agi_x: " + b"y" * MAX_LINE_BYTES + b"\n\n",
        b"agi_x: y\n" * (MAX_ENV_LINES + 1) + b"\n",
        (b"agi_x: " + b"y" * 8000 + b"\n") * 9 + b"\n",
        b"agi_arg_1: a\nagi_arg_1: b\n\n",
        b"agi_a: b\n\nagi_arg_1: x\n\n",
        b"\nagi_a: b\n\n",
        b"agi_arg_1: caf\xe9\n\n",
        bytes(range(256)) + b"\n\n",
    ],
)
def test_a_request_read_at_once_is_read_as_line_by_line(data: bytes) -> None:
    assert all_at_once(data) == line_by_line(data)


@given(st.lists(st.sampled_from([b"agi_arg_1: x", b"agi_arg_2: y", b"agi_a: b", b"", b"\r", b"junk", b"\xff"])))
def test_any_request_read_at_once_is_read_as_line_by_line(parts: list[bytes]) -> None:
    data = b"\n".join(parts)
    assert all_at_once(data) == line_by_line(data)
