"""The gateway port: how the outbox hands one SMS to whatever delivers it.

Gateways are found by name through the ``pbx_sms.gateways`` entry point group; each entry
point is a factory ``(Settings) -> Gateway`` for its own ``PBX_SMS_<NAME>_*`` settings, usually
a ``GatewayPlugin`` (pbx_sms.gateways.registry) that validates them with the gateway's model.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Literal["sent", "transient", "permanent"]
    message_id: str | None = None
    reason: str | None = None

    @classmethod
    def sent(cls, message_id: str | None = None) -> SendResult:
        return cls("sent", message_id=message_id)

    @classmethod
    def transient(cls, reason: str) -> SendResult:
        return cls("transient", reason=reason)

    @classmethod
    def permanent(cls, reason: str) -> SendResult:
        return cls("permanent", reason=reason)


class Gateway(Protocol):
    name: str
    # The outbox lease must outlast one send: a gateway tells how long a send may take.
    timeout_s: float

    async def send(self, sms: OutgoingSms) -> SendResult: ...

    async def close(self) -> None: ...


class GatewayFactory(Protocol):
    def __call__(self, settings: Settings) -> Gateway: ...


class GatewayConfigError(Exception):
    """A gateway's settings are missing or invalid (the message names the setting, never its value)."""
