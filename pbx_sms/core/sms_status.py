"""Where an SMS is in its life (the outbox row's ``status``): one vocabulary for outbox, log and database."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    # An attempt may have gone out, and nobody knows (a timeout after the request was written, an
    # answer that cannot be read, a crash mid-send). It counts as sent for every limit until it is
    # known not to have gone out. With no ``reason`` it is attempted again when due, by a gateway that
    # can tell whether the first attempt went out (or resends anyway); with a ``reason`` it waits for
    # an operator's decision (``pbx-sms outbox retry``).
    UNCLEAR = "unclear"


FINAL_STATUSES = frozenset({Status.SENT, Status.FAILED, Status.SUPPRESSED, Status.CANCELLED})

# What the daily cap and the minimum interval count: SMS that went out or may have gone out.
COUNTS_AS_SENT = frozenset({Status.SENT, Status.SENDING, Status.UNCLEAR})

# Not final: an SMS that may still go out (prune keeps them, ``outbox list`` shows them).
PENDING_STATUSES = frozenset({Status.QUEUED, Status.SENDING, Status.UNCLEAR})
