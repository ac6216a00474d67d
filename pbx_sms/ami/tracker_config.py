"""The call tracker's settings and its reading of event times (pure)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from pbx_sms.ami.parser import AmiMessage

log = logging.getLogger("pbx_sms.ami.tracker")


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
    max_channels_per_call: int = 5_000

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
            max_channels_per_call=tracking.max_channels_per_call,
        )


# A Timestamp from this moment on is absurd (a broken clock or a forged stream): datetime cannot even
# hold years from 10000 on, and year 3000 leaves room for any date arithmetic further down the line.
MAX_TIMESTAMP_S = 32_503_680_000.0  # 3000-01-01T00:00:00Z
# An event dated further than this from its receipt (live: the wall clock; replay: the stream's own
# clock so far) is dated at its receipt instead: a Timestamp days off is a broken clock, not a call.
MAX_TIMESTAMP_SKEW_S = 86_400.0


def timestamp_s(message: AmiMessage) -> float | None:
    """The event's own Timestamp header (epoch seconds), or None when missing or unusable: not a
    number, not finite, not after 1970, or at or after MAX_TIMESTAMP_S."""
    raw = message.fields.get("Timestamp", "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 < value < MAX_TIMESTAMP_S else None  # NaN compares False: refused too


class EventClock:
    """The tracker's reading of event times, counting the Timestamps it refuses and logging them: the first,
    then one line a minute (tracker time) at most, since a broken clock dates every event."""

    LOG_INTERVAL_S = 60.0

    def __init__(self) -> None:
        self.refused = 0
        self._logged_at_s = -math.inf

    def event_time_s(self, message: AmiMessage, now_s: float) -> float:
        """When the event happened: its Timestamp when usable (timestamp_s) and within
        MAX_TIMESTAMP_SKEW_S of ``now_s`` (the time of receipt), else ``now_s``.  A missing Timestamp
        (Asterisk's timestampevents=no) is not refused: receipt is the only clock there is."""
        if "Timestamp" not in message.fields:
            return now_s
        value = timestamp_s(message)
        if value is not None and abs(value - now_s) <= MAX_TIMESTAMP_SKEW_S:
            return value
        self.refused += 1
        if now_s - self._logged_at_s >= self.LOG_INTERVAL_S:
            self._logged_at_s = now_s
            log.warning(
                "AMI %s event with an absurd Timestamp %r (unusable, or more than %.0f s from its receipt): "
                "dated at its receipt instead (%d such events so far)",
                message.event,
                message.get("Timestamp")[:40],
                MAX_TIMESTAMP_SKEW_S,
                self.refused,
            )
        return now_s
