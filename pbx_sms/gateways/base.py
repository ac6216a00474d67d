"""The gateway port: how the outbox hands one SMS to whatever delivers it.

Gateways are found by name through the ``pbx_sms.gateways`` entry point group; each entry
point is a factory ``(Settings) -> Gateway`` for its own ``PBX_SMS_<NAME>_*`` settings, usually
a ``GatewayPlugin`` (pbx_sms.gateways.registry) that validates them with the gateway's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from pbx_sms.config import Settings


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """What a gateway needs to send one SMS.

    ``idempotency_key`` is a random UUID fixed when the SMS was queued: a retry of the same
    SMS carries the same key, so a gateway that supports one never sends it twice.
    """

    idempotency_key: str
    to: str
    sender: str
    text: str
    parts: int
    encoding: str
    # Set when an earlier attempt of this SMS may have gone out (its outcome was unclear, or it was
    # cut short by a crash): since when. A gateway that can look up what it sent (twilio) looks
    # before sending again, also after a restart.
    unclear_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """``sent``; ``transient``: not sent, try again later; ``unclear``: may have gone out (a timeout
    after the request was written, an answer that cannot be read), retried as transient but counted
    as sent for every limit meanwhile; ``permanent``: not sent, never will be."""

    outcome: Literal["sent", "transient", "unclear", "permanent"]
    message_id: str | None = None
    reason: str | None = None

    @classmethod
    def sent(cls, message_id: str | None = None) -> SendResult:
        return cls("sent", message_id=message_id)

    @classmethod
    def transient(cls, reason: str) -> SendResult:
        return cls("transient", reason=reason)

    @classmethod
    def unclear(cls, reason: str) -> SendResult:
        return cls("unclear", reason=reason)

    @classmethod
    def permanent(cls, reason: str) -> SendResult:
        return cls("permanent", reason=reason)


class Gateway(Protocol):
    name: str
    # The outbox lease must outlast one send: a gateway tells how long a send may take.
    timeout_s: float

    # Optional (read with getattr, default False): an attempt cut short by a crash (its lease ran
    # out while sending) may be sent again by this gateway without risking a second SMS, because it
    # deduplicates by the idempotency key or looks up what it sent, or because its settings say
    # resend. Otherwise such an attempt is held as ``unclear`` for an operator's decision.
    # resend_after_crash: bool

    async def send(self, sms: OutgoingSms) -> SendResult: ...

    async def close(self) -> None: ...


class GatewayFactory(Protocol):
    def __call__(self, settings: Settings) -> Gateway: ...


class GatewayConfigError(Exception):
    """A gateway's settings are missing or invalid (the message names the setting, never its value)."""
