"""Plain, immutable views of configuration rows, for code that must not hold ORM objects."""

from __future__ import annotations

from dataclasses import dataclass

from pbx_sms.core.matching import AccountPolicy
from pbx_sms.core.quiet_hours import QuietHours

DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """What the rule matcher and the outbox need to know about an account."""

    id: int
    name: str
    timezone: str
    country: str
    allowed_countries: tuple[str, ...]
    sms_enabled: bool
    daily_cap: int | None
    quiet_hours: QuietHours | None = None

    def policy(self) -> AccountPolicy:
        """The account as the rule matcher sees it."""
        return AccountPolicy(
            name=self.name,
            timezone=self.timezone,
            country=self.country,
            allowed_countries=frozenset(self.allowed_countries),
            sms_enabled=self.sms_enabled,
        )
