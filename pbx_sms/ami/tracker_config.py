"""The call tracker's settings and its reading of event times (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pbx_sms.ami.parser import AmiMessage


@dataclass(frozen=True)
class TrackerConfig:
    cdr_grace_s: float = 0.5
    inbound_contexts: tuple[str, ...] = ("from-trunk", "from-pstn")
    outbound_contexts: tuple[str, ...] = ("from-internal",)
    internal_max_digits: int = 5
    outbound_prefix: str = ""
    country: str = "PL"
    max_open_calls: int = 10_000
    max_call_age_s: float = 6 * 3600

    @classmethod
    def from_settings(cls, settings: Any) -> TrackerConfig:
        tracking = settings.tracking
        return cls(
            cdr_grace_s=tracking.cdr_grace_s,
            inbound_contexts=tuple(tracking.inbound_contexts),
            outbound_contexts=tuple(tracking.outbound_contexts),
            internal_max_digits=tracking.internal_max_digits,
            outbound_prefix=tracking.outbound_prefix,
            country=settings.country,
            max_open_calls=tracking.max_open_calls,
            max_call_age_s=tracking.max_call_age_s,
        )


def timestamp_s(message: AmiMessage) -> float | None:
    """The event's own Timestamp header (epoch seconds), or None when missing or unusable."""
    raw = message.fields.get("Timestamp", "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def event_time_s(message: AmiMessage, now_s: float) -> float:
    """When the event happened: its Timestamp when usable, else ``now_s`` (the time of receipt)."""
    value = timestamp_s(message)
    return now_s if value is None else value
