"""Time zone names as admins write them (pure): one validator for settings, accounts and rules."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def validate_timezone(name: str) -> str:
    """``name`` when it is a known IANA time zone; ValueError saying what was expected otherwise."""
    try:
        ZoneInfo(name)
    # OSError: a name longer than a file name can be (ZoneInfo looks the name up as a file).
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name like Europe/Warsaw)") from exc
    return name
