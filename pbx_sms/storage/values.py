"""Validation and encoding of configuration values (pure): sender IDs, countries, time zones, lists."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pbx_sms.core.bounds import ACCOUNT_NAME_MAX_CHARS, INTEGER_MAX
from pbx_sms.core.phone import check_country_code, is_e164
from pbx_sms.core.text_safety import has_controls
from pbx_sms.core.timezones import validate_timezone
from pbx_sms.storage.errors import InvalidValue

_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 ._-]{1,11}")
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{1,15}")


def check_sender_id(value: str) -> str:
    """A sender ID per SPEC §1: alphanumeric (1–11 of A–Z a–z 0–9 space - _ ., at least one letter)
    or numeric (a phone number in international format, up to 15 digits, optional +). Returned unchanged."""
    if _NUMERIC_SENDER.fullmatch(value) and is_e164("+" + value.lstrip("+")):
        return value
    if _ALPHANUMERIC_SENDER.fullmatch(value) and any(char.isalpha() for char in value):
        if value != value.strip():
            raise InvalidValue(f"sender ID {value!r}: no leading or trailing spaces")
        return value
    raise InvalidValue(
        f"sender ID {value!r}: expected 1–11 characters of A–Z a–z 0–9 space - _ . with at least one letter, "
        "or a phone number of up to 15 digits in international format"
    )


def check_account_name(value: str) -> str:
    """An account name as typed (surrounding spaces dropped): 1–100 characters, no control characters."""
    name = value.strip()
    if not name:
        raise InvalidValue("account name: must not be empty")
    if len(name) > ACCOUNT_NAME_MAX_CHARS:
        raise InvalidValue(f"account name: at most {ACCOUNT_NAME_MAX_CHARS} characters (this one has {len(name)})")
    if has_controls(name):
        raise InvalidValue(f"account name {name!r}: must not contain control characters (line breaks, tabs, NUL, ESC)")
    return name


def can_be_stored(value: str, max_chars: int) -> bool:
    """Whether a name could be in a column of ``max_chars``: a longer one, or one with a NUL (PostgreSQL
    stores none), names nothing, and looking it up would only make the database refuse the query."""
    return len(value) <= max_chars and "\x00" not in value


def check_country(value: str) -> str:
    try:
        return check_country_code(value)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def check_timezone(value: str) -> str:
    try:
        return validate_timezone(value)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def check_daily_cap(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= INTEGER_MAX:
        raise InvalidValue(f"daily cap {value}: expected 0 to {INTEGER_MAX} (or none)")
    return value


def encode_countries(codes: Iterable[str]) -> str:
    """Allowed countries → the column text: sorted ISO codes joined by commas."""
    return ",".join(sorted({check_country(code) for code in codes if code.strip()}))


def decode_list(column: str | None) -> list[str]:
    """Comma-separated column text → its items, blanks dropped (admins write ``'a, b'`` too)."""
    if not column:
        return []
    return [item.strip() for item in column.split(",") if item.strip()]


def encode_list(items: Iterable[str]) -> str:
    return ",".join(items)
