"""Plain, immutable views of configuration rows, for code that must not hold ORM objects."""

from __future__ import annotations

from dataclasses import dataclass

from pbx_sms.core.matching import AccountPolicy
from pbx_sms.core.quiet_hours import QuietHours

DEFAULT_ACCOUNT = "default"

# The daily cap of an account created without one (the ``default`` account on a fresh database, and
# `pbx-sms accounts add` without --daily-cap): SMS pumping (one caller calling 1,000 times, a bot
# dialling every DID) costs at most this many SMS a day. 200 covers an office with ~100 missed calls a
# day texted by two rules; a busier account raises it (`accounts set --daily-cap N`), and
# `--no-daily-cap` removes it explicitly. Accounts that exist keep what they have.
DEFAULT_DAILY_CAP = 200


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
