"""One AGI request → HookOutcome (pure): the same reading for the spawned hook and the FastAGI server.

Asterisk (res_agi.c ``setup_env``) writes the environment as ``agi_name: value`` lines, the
arguments last as ``agi_arg_1`` … ``agi_arg_N`` in order, then an empty line; FastAGI puts
``agi_network: yes`` and ``agi_network_script: PATH`` first. A value is written as it is, so an
argument containing a line break becomes extra lines: a later ``agi_arg_N`` would override an
earlier one. So a line that is not ``agi_name: value``, a name given twice, or arguments out of
order refuse the request, as do line breaks in an argument and arguments over a size bound (a
caller chooses the caller ID). Both readers feed raw lines to ``EnvironmentReader``, which bounds
the line length, the number of lines and the whole request.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from pbx_sms.hangup.arguments import ARGUMENT_NAMES
from pbx_sms.hangup.mapping import (
    ArgumentError,
    HookOutcome,
    arguments_from_agi_env,
    map_call,
    parse_arguments,
)

# Asterisk reads an AGI command into an 8 KiB buffer (AGI_BUF_LEN); no environment line of a real
# request comes near it.
MAX_LINE_BYTES = 8192
# About 20 lines of channel data, 2 of FastAGI, and at most 127 arguments (MAX_ARGS).
MAX_ENV_LINES = 200
MAX_REQUEST_BYTES = 64 * 1024
# Linkedids, epochs, statuses and phone numbers are far shorter; a longer value is not one of them.
MAX_ARGUMENT_CHARS = 256
# What str.splitlines() splits on: any of them in a value would start a new line somewhere.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
# The outcome as Asterisk logs it: bounded well below its 8 KiB command buffer.
MAX_VERBOSE_CHARS = 1000

# group 2: N of agi_arg_N.
_LINE = re.compile(r"(agi_(?:arg_([0-9]+)|[a-z0-9_]+)): (.*)", re.DOTALL)


class AgiRequestError(ValueError):
    """The request is not a well-formed AGI environment; the message says where, never a value."""


class EnvironmentReader:
    """Collects the raw environment lines of one AGI session, each ending in ``\\n``, bounded."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._total_bytes = 0
        # The input ended (Asterisk closed the session) before the environment did.
        self.ended = False

    def feed(self, raw: bytes) -> bool:
        """Take one line as read (b"" at end of input); True once the empty line ended the environment."""
        if not raw:
            self.ended = True
            raise AgiRequestError(
                f"the AGI session ended after {len(self._lines)} environment lines, before the empty line"
            )
        self._total_bytes += len(raw)
        where = f"AGI environment line {len(self._lines) + 1}"
        if len(raw) > MAX_LINE_BYTES:
            raise AgiRequestError(f"{where} is longer than {MAX_LINE_BYTES} bytes")
        if not raw.endswith(b"\n"):
            self.ended = True
            raise AgiRequestError(f"the AGI session ended in the middle of {where}")
        if self._total_bytes > MAX_REQUEST_BYTES:
            raise AgiRequestError(f"the AGI environment is larger than {MAX_REQUEST_BYTES} bytes")
        if raw in (b"\n", b"\r\n"):
            return True
        if len(self._lines) >= MAX_ENV_LINES:
            raise AgiRequestError(f"the AGI environment has more than {MAX_ENV_LINES} lines")
        self._lines.append(raw[:-1].decode("utf-8", errors="replace"))
        return False

    def feed_request(self, data: bytes) -> dict[str, str]:
        """A whole request as read (the FastAGI server reads it in chunks): the same bounds and errors
        as feeding it line by line and then b"", in one pass when it is well within them."""
        lines = data.split(b"\n")
        if (
            not self._lines
            # The request's one empty line is its last.
            and data.endswith(b"\n\n")
            and data.find(b"\n\n") == len(data) - 2
            and not data.startswith(b"\n")
            and len(data) <= MAX_REQUEST_BYTES
            and len(lines) - 2 <= MAX_ENV_LINES
            and max(map(len, lines)) < MAX_LINE_BYTES
            and b"\r" not in data
        ):
            # "\n" is never part of a UTF-8 sequence: decoding the block is decoding each line.
            self._lines = data[:-2].decode("utf-8", errors="replace").split("\n")
            return self.environment()
        for line in lines[:-1]:
            if self.feed(line + b"\n"):
                return self.environment()
        self.feed(lines[-1])
        self.feed(b"")
        raise AssertionError("unreachable: feed(b'') raises")

    def environment(self) -> dict[str, str]:
        return parse_environment(self._lines)


def parse_environment(lines: Sequence[str]) -> dict[str, str]:
    """``agi_name: value`` lines (without their newline) → {name: value}, refusing what Asterisk never sends."""
    env: dict[str, str] = {}
    next_argument = 1
    for number, line in enumerate(lines, start=1):
        match = _LINE.fullmatch(line)
        if match is None:
            raise AgiRequestError(
                f"AGI environment line {number} is not 'agi_name: value' "
                "(garbage, or an argument containing a line break)"
            )
        name, argument, value = match.groups()
        if name in env:
            raise AgiRequestError(
                f"AGI environment line {number}: {name} given twice (an argument containing a line break?)"
            )
        if argument is not None:
            if int(argument) != next_argument:
                raise AgiRequestError(
                    f"AGI environment line {number}: {name} where agi_arg_{next_argument} was due "
                    "(an argument containing a line break?)"
                )
            next_argument += 1
        elif next_argument > 1:
            raise AgiRequestError(
                f"AGI environment line {number}: {name} after the arguments (an argument containing a line break?)"
            )
        env[name] = value
    return env


def check_values(values: Sequence[str], names: Sequence[str]) -> None:
    """Refuse a value over the size bound or with a line break; ``names`` say which is which."""
    for index, value in enumerate(values):
        name = names[index] if index < len(names) else f"argument {index + 1}"
        if len(value) > MAX_ARGUMENT_CHARS:
            raise AgiRequestError(f"{name} is {len(value)} characters long, more than {MAX_ARGUMENT_CHARS}")
        if not LINE_BREAKS.isdisjoint(value):
            raise AgiRequestError(f"{name} contains a line break")


def outcome_of_request(env: Mapping[str, str], country: str, internal_max_digits: int) -> HookOutcome:
    """What the hangup hook records for one AGI request (its environment, as parse_environment gives)."""
    values = arguments_from_agi_env(env)
    channel_caller = env.get("agi_callerid", "")
    try:
        check_values(values, ARGUMENT_NAMES)
        check_values([channel_caller], ["agi_callerid"])
        args = parse_arguments(
            values, channel_caller=channel_caller, asterisk_version=env.get("agi_version", "")[:MAX_ARGUMENT_CHARS]
        )
    except (AgiRequestError, ArgumentError) as exc:
        return HookOutcome(None, str(exc))
    # The free-text argument is rejoined from Asterisk's comma split: bound it as a whole too.
    if len(args.other_party) > MAX_ARGUMENT_CHARS:
        return HookOutcome(
            None, f"other_party is {len(args.other_party)} characters long, more than {MAX_ARGUMENT_CHARS}"
        )
    return map_call(args, country, internal_max_digits)


def verbose_command(text: str, level: int) -> str:
    """The AGI ``VERBOSE`` command line that logs ``text`` in Asterisk's log, newline included.

    Control characters are shown as ``\\xNN`` (a newline would end the command and start another),
    and quotes and backslashes escaped the way res_agi.c's parse_args reads them.
    """
    shown = text if text.isprintable() else "".join(_visible(char) for char in text)
    if len(shown) > MAX_VERBOSE_CHARS:
        shown = shown[: MAX_VERBOSE_CHARS - 3] + "..."
    quoted = shown.replace("\\", "\\\\").replace('"', '\\"')
    return f'VERBOSE "{quoted}" {level}\n'


def _visible(char: str) -> str:
    if char in LINE_BREAKS or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char
