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


FINAL_STATUSES = frozenset({Status.SENT, Status.FAILED, Status.SUPPRESSED, Status.CANCELLED})
