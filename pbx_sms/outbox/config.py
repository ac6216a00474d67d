"""Worker settings: ``PBX_SMS_OUTBOX_*`` (or ``[outbox]`` in the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pbx_sms.config import ConfigError
from pbx_sms.outbox.retry import RetryPolicy

if TYPE_CHECKING:
    from pbx_sms.config import Settings


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    # Rows claimed and not yet finished (sending, or waiting for one of the gateway's send slots).
    max_in_flight: int = 64
    claim_batch: int = 64
    # Least time between two claim rounds: bounds transactions per second, adds at most this to lateness.
    claim_interval_s: float = 0.01
    # Rows added by other processes are noticed within this (PostgreSQL NOTIFY is faster).
    poll_s: float = 1.0
    # None: twice the gateway's timeout plus 5 s, so a lease always outlasts a send and its report.
    lease_s: float | None = None
    # Outcomes are written in batches: a burst of sends costs a few transactions, not one each.
    flush_interval_s: float = 0.02
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def lease_for(self, gateway_timeout_s: float) -> float:
        if self.lease_s is None:
            return 2 * gateway_timeout_s + 5.0
        if self.lease_s <= gateway_timeout_s:
            raise ConfigError(
                f"PBX_SMS_OUTBOX_LEASE_S: {self.lease_s:g} s does not outlast the gateway timeout "
                f"({gateway_timeout_s:g} s); a slow send would be sent again by another worker"
            )
        return self.lease_s

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        """The ``outbox`` settings (each already validated); those not set keep the defaults here."""
        given = settings.outbox.model_dump(exclude_none=True)
        retry_given = {policy_name: given.pop(name) for name, policy_name in _RETRY_SETTINGS.items() if name in given}
        try:
            retry = RetryPolicy(**retry_given)
        except ValueError as exc:
            raise ConfigError(f"PBX_SMS_OUTBOX_RETRY_*: {exc}") from None
        # The other outbox settings are named as the fields here.
        return cls(**given, retry=retry)


# Outbox setting → RetryPolicy field.
_RETRY_SETTINGS = {
    "retry_base_s": "base_delay_s",
    "retry_max_s": "max_delay_s",
    "retry_max_attempts": "max_attempts",
    "retry_max_age_s": "max_age_s",
}
