"""Phone numbers as Asterisk shows them → E.164 and what kind of party they are (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

PartyKind = Literal["mobile", "landline", "other_number", "anonymous", "internal", "invalid"]

# Caller IDs that mean "no number": withheld, restricted, or Asterisk's placeholder.
ANONYMOUS_IDS = frozenset(
    {
        "",
        "anonymous",
        "<unknown>",
        "unknown",
        "restricted",
        "private",
        "withheld",
        "unavailable",
        "unavail",
        "anonymous@anonymous.invalid",
        "s",
    }
)
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_DIAL_PUNCTUATION = str.maketrans("", "", " -.()/")


@dataclass(frozen=True, slots=True)
class Party:
    """One side of a call. ``e164`` is set only for a valid public number."""

    raw: str
    kind: PartyKind
    e164: str | None = None
    region: str | None = None

    @property
    def display(self) -> str:
        """E.164 when it is a public number, else the raw value (``anonymous``, ``101``)."""
        return self.e164 or self.raw


def is_anonymous(raw: str) -> bool:
    return raw.strip().lower() in ANONYMOUS_IDS


def is_internal(raw: str, internal_max_digits: int = 5) -> bool:
    """An extension of the PBX: only digits, and short."""
    value = raw.strip()
    return value.isdigit() and len(value) <= internal_max_digits


def _strip_sip(raw: str) -> str:
    value = raw.strip()
    if value.lower().startswith(("sip:", "tel:")):
        value = value[4:]
    user, at, _host = value.partition("@")
    return user if at else value


@lru_cache(maxsize=65536)
def _parse(value: str, country: str) -> phonenumbers.PhoneNumber | None:
    candidates = [value]
    digits = value.lstrip("+")
    if not value.startswith("+") and digits.isdigit():
        # Carriers often send the international form without "+" (48602345678).
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, country)
        except NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


def normalise(raw: str, country: str) -> str | None:
    """E.164 form of a public phone number, or None when it is not a valid one."""
    value = _strip_sip(raw).translate(_DIAL_PUNCTUATION)
    if not value:
        return None
    number = _parse(value, country.upper())
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def classify_party(raw: str, country: str, internal_max_digits: int = 5) -> Party:
    """What a caller ID / dialled number is, with ``country`` as the default region."""
    if is_anonymous(raw):
        return Party(raw.strip(), "anonymous")
    value = _strip_sip(raw).translate(_DIAL_PUNCTUATION)
    if is_internal(value, internal_max_digits):
        return Party(value, "internal")
    number = _parse(value, country.upper()) if value else None
    if number is None:
        return Party(raw.strip(), "invalid")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(number)
    number_type = phonenumbers.number_type(number)
    if number_type in MOBILE_TYPES:
        kind: PartyKind = "mobile"
    elif number_type == PhoneNumberType.FIXED_LINE:
        kind = "landline"
    else:
        kind = "other_number"
    return Party(raw.strip(), kind, e164, region)


def is_e164(value: str) -> bool:
    """Strict check for configuration: "+" and a valid number in international form."""
    if not value.startswith("+") or not value[1:].isdigit():
        return False
    return normalise(value, "ZZ") == value


def check_country_code(value: str) -> str:
    """``value`` as an upper-case ISO 3166 code of a country phone numbers are known for (``pl`` → ``PL``);
    ValueError saying what was expected otherwise (``XX`` is two letters, but no country)."""
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"country {value!r}: expected a two-letter ISO country code like PL")
    return code
