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
        section = settings.section("outbox")
        known = {
            "max_in_flight",
            "claim_batch",
            "claim_interval_s",
            "poll_s",
            "lease_s",
            "flush_interval_s",
            "retry_base_s",
            "retry_max_s",
            "retry_max_attempts",
            "retry_max_age_s",
        }
        unknown = sorted(set(section) - known)
        if unknown:
            names = ", ".join(f"PBX_SMS_OUTBOX_{key.upper()}" for key in unknown)
            raise ConfigError(f"{names}: unknown outbox setting (known: {', '.join(sorted(known))})")

        def number(key: str, default: float, *, integer: bool = False) -> float:
            raw = section.get(key)
            if raw is None:
                return default
            try:
                value = int(raw) if integer else float(raw)
            except ValueError:
                kind = "a whole number" if integer else "a number"
                raise ConfigError(f"PBX_SMS_OUTBOX_{key.upper()}: expected {kind}, got {raw!r}") from None
            if value <= 0:
                raise ConfigError(f"PBX_SMS_OUTBOX_{key.upper()}: expected more than 0, got {raw!r}")
            return value

        defaults = cls()
        try:
            retry = RetryPolicy(
                base_delay_s=number("retry_base_s", defaults.retry.base_delay_s),
                max_delay_s=number("retry_max_s", defaults.retry.max_delay_s),
                max_attempts=int(number("retry_max_attempts", defaults.retry.max_attempts, integer=True)),
                max_age_s=number("retry_max_age_s", defaults.retry.max_age_s),
            )
        except ValueError as exc:
            raise ConfigError(f"PBX_SMS_OUTBOX_RETRY_*: {exc}") from None
        return cls(
            max_in_flight=int(number("max_in_flight", defaults.max_in_flight, integer=True)),
            claim_batch=int(number("claim_batch", defaults.claim_batch, integer=True)),
            claim_interval_s=number("claim_interval_s", defaults.claim_interval_s),
            poll_s=number("poll_s", defaults.poll_s),
            lease_s=number("lease_s", 0) or None,
            flush_interval_s=number("flush_interval_s", defaults.flush_interval_s),
            retry=retry,
        )
