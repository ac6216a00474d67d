"""Delivery reports: where a sent SMS is after the gateway took it (pure; no I/O).

A report moves a message along the lifecycle ``queued < sending < sent < accepted < final``; the
finals are ``delivered``, ``undelivered``, ``expired`` and ``rejected``. ``unknown`` is not stored:
it is what a sent SMS with no final report shows.

Callbacks carry no reliable time and may arrive twice or out of order, so the stored state is
decided by the lifecycle alone (``supersedes``):

- a later stage replaces an earlier one (``sent`` after ``queued``; ``delivered`` after ``sent``);
- nothing replaces a final with an intermediate one (``sent`` after ``delivered`` changes nothing);
- between two finals the first recorded stays: providers do not revise a final report, and keeping
  the first makes the result independent of later duplicates;
- the same stage again changes nothing (idempotence).

Hence applying any permutation of a set of reports with at most one final gives the same state.

Provider vocabularies (each mapped here only):

- Twilio ``MessageStatus``: queued, sending, sent, delivered, undelivered, failed (plus accepted,
  scheduled, canceled, read...). ``failed`` means Twilio never handed the message to a carrier, so
  it is ``rejected``; ``undelivered`` means the carrier refused it (``undelivered``).
- SMSAPI: the callback's ``status_name`` and numeric ``status`` (SMSAPI documentation
  https://www.smsapi.pl/docs, sections "9. Raporty Callback" and "18. Lista statusów doręczenia"):
  401 NOT_FOUND, 402 EXPIRED, 403 SENT, 404 DELIVERED, 405 UNDELIVERED, 406 FAILED, 407 REJECTED,
  408 UNKNOWN, 409 QUEUE, 410 ACCEPTED, 411 RENEWAL, 412 STOP. The twelve names are SMSAPI's own
  (its client smsapi/smsapi-javascript-client, src/modules/sms/types/SmsStatus.ts, lists exactly
  these); the numbers were read from an SMSAPI integration quoting that table ("Statuses from api",
  YetiForce's SMSAPI provider), as the docs page itself could not be read past its start here, so
  the name, when it comes, always wins. NOT_FOUND, UNKNOWN and RENEWAL say nothing about the phone,
  so they are not recorded; STOP (the send was stopped) is ``rejected``.
- The generic http gateway's documented words: the statuses themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    # The provider's network took it (SMSAPI ACCEPTED); still not on the phone.
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"
    REJECTED = "rejected"
    # Shown for a sent SMS with no final report; never stored from a report.
    UNKNOWN = "unknown"


FINAL_DELIVERY_STATUSES = frozenset(
    {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED, DeliveryStatus.REJECTED}
)

# Counted as "not delivered" by the delivery rate.
NOT_DELIVERED_STATUSES = frozenset({DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED, DeliveryStatus.REJECTED})


@dataclass(frozen=True, slots=True)
class Delivery:
    """The provider's last report on one SMS: its status, when it came here, the provider's code."""

    status: DeliveryStatus
    at: datetime
    code: str | None


def shown_delivery(report: DeliveryStatus | None, sent: bool) -> DeliveryStatus | None:
    """What the SMS log shows for an SMS: a final report as it is; ``unknown`` for a sent SMS with no
    final report (none, or only intermediate ones); None for an SMS not sent (nothing to deliver)."""
    if report is not None and report in FINAL_DELIVERY_STATUSES:
        return report
    return DeliveryStatus.UNKNOWN if sent else None


# What the SMS log can be filtered by (and what it shows).
SHOWN_DELIVERY_STATUSES = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.UNDELIVERED,
    DeliveryStatus.EXPIRED,
    DeliveryStatus.REJECTED,
    DeliveryStatus.UNKNOWN,
)
_SHOWN_BY_WORD = {status.value: status for status in SHOWN_DELIVERY_STATUSES}


def shown_delivery_named(word: str) -> DeliveryStatus | None:
    """A filter's word (delivered, undelivered, expired, rejected, unknown) as its status; None otherwise."""
    return _SHOWN_BY_WORD.get(word)


def delivery_rate(delivered: int, undelivered: int) -> float | None:
    """Delivered among the SMS with a final report (pending ones do not count either way); None when
    none has one yet: "no figure", not 0 %."""
    decided = delivered + undelivered
    return delivered / decided if decided else None


@dataclass(frozen=True, slots=True)
class DeliveryFigures:
    """SMS sent in a window and what became of them: delivered, not (undelivered, expired, rejected),
    or pending (no final report yet)."""

    sent: int
    delivered: int
    undelivered: int
    pending: int

    @property
    def rate(self) -> float | None:
        return delivery_rate(self.delivered, self.undelivered)


_STAGE = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.ACCEPTED: 3,
}
_FINAL_STAGE = 4

REPORTED_STATUSES = frozenset(DeliveryStatus) - {DeliveryStatus.UNKNOWN}


def stage_of(status: DeliveryStatus) -> int:
    """The status's place in the lifecycle (all finals share the last place)."""
    if status in FINAL_DELIVERY_STATUSES:
        return _FINAL_STAGE
    if status not in _STAGE:
        raise ValueError(
            f"delivery status: {status!r} is not a reported status, expected one of {sorted(REPORTED_STATUSES)}"
        )
    return _STAGE[status]


def supersedes(new: DeliveryStatus, old: DeliveryStatus | None) -> bool:
    """Whether a report of ``new`` replaces the stored ``old`` (None: nothing stored yet)."""
    if old is None:
        stage_of(new)
        return True
    if old in FINAL_DELIVERY_STATUSES:
        return False
    return stage_of(new) > stage_of(old)


def apply_reports(statuses: list[DeliveryStatus]) -> DeliveryStatus | None:
    """The state after recording ``statuses`` in that order (what storage does, row by row)."""
    state: DeliveryStatus | None = None
    for status in statuses:
        if supersedes(status, state):
            state = status
    return state


_TWILIO = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENDING,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    # Never handed to a carrier (Twilio refused it): rejected, not undelivered.
    "failed": DeliveryStatus.REJECTED,
    "canceled": DeliveryStatus.REJECTED,
}

_SMSAPI_NAMES = {
    "QUEUE": DeliveryStatus.QUEUED,
    "SENT": DeliveryStatus.SENT,
    "ACCEPTED": DeliveryStatus.ACCEPTED,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "UNDELIVERED": DeliveryStatus.UNDELIVERED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "REJECTED": DeliveryStatus.REJECTED,
    "FAILED": DeliveryStatus.UNDELIVERED,
    "STOP": DeliveryStatus.REJECTED,
}

_SMSAPI_CODES = {
    "402": "EXPIRED",
    "403": "SENT",
    "404": "DELIVERED",
    "405": "UNDELIVERED",
    "406": "FAILED",
    "407": "REJECTED",
    "409": "QUEUE",
    "410": "ACCEPTED",
    "412": "STOP",
}

_HTTP = {status.value: status for status in REPORTED_STATUSES}


def twilio_status(message_status: str) -> DeliveryStatus | None:
    """Twilio's ``MessageStatus`` as a delivery status; None for a word it does not know."""
    return _TWILIO.get(message_status.strip().lower())


def smsapi_status(status_name: str, status_code: str = "") -> DeliveryStatus | None:
    """SMSAPI's ``status_name``, else its numeric ``status``, as a delivery status; None when neither
    is one that says where the message is (NOT_FOUND, UNKNOWN, RENEWAL, or a word not documented)."""
    name = status_name.strip().upper() or _SMSAPI_CODES.get(status_code.strip(), "")
    return _SMSAPI_NAMES.get(name)


def http_status(word: str) -> DeliveryStatus | None:
    """The http gateway callback's ``status`` word; None for a word not documented."""
    return _HTTP.get(word.strip().lower())
