"""What the worker tells about each send attempt: its log line, and a report to whoever watches
(the daemon's metrics).

A plain callback with plain data, so the outbox knows nothing of how it is counted or exported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pbx_sms.outbox.model import Failed, OutboxRow, Outcome, RetryLater, Sent

log = logging.getLogger("pbx_sms.outbox.worker")


@dataclass(frozen=True, slots=True)
class SendAttempt:
    # The gateway's answer: "sent", "transient" or "permanent" (a timeout or a gateway bug is transient).
    result: str
    # How long the gateway took.
    duration_s: float
    # How long after the row was due the send started (claiming, waiting for a send slot).
    lateness_s: float
    # What the retry policy made of it (Sent, RetryLater or Failed).
    outcome: Outcome


SendObserver = Callable[[SendAttempt], None]


def log_outcome(row: OutboxRow, outcome: Sent | RetryLater | Failed) -> None:
    """One line per attempt, with the structured fields the JSON log format carries."""
    if isinstance(outcome, Sent):
        log.info(
            "SMS %d to %s sent via %s (message id %s)",
            row.id,
            row.to,
            outcome.gateway,
            outcome.message_id,
            extra={
                "sms_id": row.id,
                "status": "sent",
                "gateway": outcome.gateway,
                "message_id": outcome.message_id,
            },
        )
    elif isinstance(outcome, RetryLater):
        log.info(
            "SMS %d to %s: %s; %s, retry at %s",
            row.id,
            row.to,
            outcome.error,
            "unclear (counts as sent until known)" if outcome.unclear_since else "queued",
            outcome.due_at.isoformat(),
            extra={"sms_id": row.id, "status": str(outcome.status), "error": outcome.error, "retry_at": outcome.due_at},
        )
    else:
        log.warning(
            "SMS %d to %s failed: %s",
            row.id,
            row.to,
            outcome.reason,
            extra={"sms_id": row.id, "status": "failed", "reason": outcome.reason},
        )
