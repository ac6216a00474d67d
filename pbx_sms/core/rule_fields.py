"""Checks of single values in rules (pure): text fields as YAML gives them, phone numbers, sender IDs,
recipients, clock times; each error says what was expected, for :mod:`pbx_sms.core.rules`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from pbx_sms.core.phone import is_e164
from pbx_sms.core.schedule import format_clock, parse_clock

OTHER_PARTY = "other_party"
SENDER_ID_HELP = (
    "expected a sender ID: alphanumeric (1-11 characters of A-Z a-z 0-9 space - _ . with at least one letter) "
    "or numeric (up to 15 digits, a phone number in international format)"
)

_ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 ._-]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?\d{1,15}$")


def _scalar_string(value: Any) -> Any:
    """Strings must arrive as strings: YAML 1.1 turns some unquoted words into other types."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "quote_string",
            "expected a string, got {value}: YAML reads unquoted yes/no/on/off/true/false as a boolean - "
            "put the value in quotes",
            {"value": str(value).lower()},
        )
    if isinstance(value, int | float):
        raise PydanticCustomError(
            "quote_string",
            "expected a string, got the number {value}: YAML reads unquoted digits (also +48...) as a number - "
            'put the value in quotes, e.g. "+48600100100"',
            {"value": value},
        )
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("nul_char", "must not contain a NUL character (\\x00)")
    return value


QuotedStr = Annotated[str, BeforeValidator(_scalar_string)]


def _check_e164(value: str) -> str:
    if not is_e164(value):
        raise PydanticCustomError(
            "e164",
            "expected a phone number in E.164 form (+ country code and number, no spaces), got {value}",
            {"value": repr(value)},
        )
    return value


def check_sender(value: str) -> str:
    if _ALPHANUMERIC_SENDER.match(value) and any(char.isalpha() for char in value):
        if value != value.strip():
            raise PydanticCustomError("sender_id", "a sender ID must not start or end with a space")
        return value
    if _NUMERIC_SENDER.match(value) and is_e164("+" + value.lstrip("+")):
        return value
    raise PydanticCustomError("sender_id", SENDER_ID_HELP + ", got {value}", {"value": repr(value)})


def sender_can_receive(sender: str) -> bool:
    """Whether replies can reach ``sender``: a number can receive SMS, an alphanumeric sender ID cannot."""
    return _NUMERIC_SENDER.match(sender) is not None


def _check_recipient(value: str) -> str:
    if value == OTHER_PARTY:
        return value
    if not is_e164(value):
        raise PydanticCustomError(
            "recipient",
            'expected "other_party" or a phone number in E.164 form (e.g. "+48600100100"), got {value}',
            {"value": repr(value)},
        )
    return value


def _check_clock(value: Any, *, allow_24: bool) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 18:00 as the base-60 integer 1080; the number alone cannot tell 18:00 from 18.
        hint = f'; write "{format_clock(value)}"' if 0 <= value < 24 * 60 else ""
        raise PydanticCustomError(
            "clock_unquoted",
            'expected "HH:MM" in quotes, got the number {value}: YAML reads an unquoted time like 18:00 '
            "as a base-60 number (18*60 = 1080){hint}",
            {"value": value, "hint": hint},
        )
    if not isinstance(value, str):
        raise PydanticCustomError("clock", 'expected "HH:MM", got {value}', {"value": repr(value)})
    try:
        return format_clock(parse_clock(value, allow_24=allow_24))
    except ValueError as exc:
        raise PydanticCustomError("clock", str(exc)) from None


def unique_values(values: list[Any], what: str) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError(
                "duplicate", "{what} {value} is listed twice", {"what": what, "value": repr(value)}
            )
        seen.add(value)
    return values


E164 = Annotated[QuotedStr, AfterValidator(_check_e164)]
Recipient = Annotated[QuotedStr, AfterValidator(_check_recipient)]
ClockFrom = Annotated[str, BeforeValidator(lambda value: _check_clock(value, allow_24=False))]
ClockTo = Annotated[str, BeforeValidator(lambda value: _check_clock(value, allow_24=True))]
