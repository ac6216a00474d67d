"""What the worker reports about each send attempt to whoever watches it (the daemon's metrics).

A plain callback with plain data, so the outbox knows nothing of how it is counted or exported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pbx_sms.outbox.model import Outcome


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
