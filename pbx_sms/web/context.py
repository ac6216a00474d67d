"""What every request of `pbx-sms web` works with: the database, the settings and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from argon2 import PasswordHasher

from pbx_sms.config.models import Settings
from pbx_sms.core.clock import utc_now
from pbx_sms.core.web_session import SessionLimits
from pbx_sms.db.engine import Database
from pbx_sms.storage.credentials import DEFAULT_HASHER


@dataclass(frozen=True, slots=True)
class WebContext:
    database: Database
    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)
    # Checks login passwords (tests pass a fast one; a stored hash keeps its own parameters).
    hasher: PasswordHasher = field(default=DEFAULT_HASHER)

    @property
    def session_limits(self) -> SessionLimits:
        return SessionLimits(idle_s=self.settings.web.session_idle_s, max_s=self.settings.web.session_max_s)
