"""What every request of `pbx-sms web` works with: the database, the settings and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pbx_sms.config.models import Settings
from pbx_sms.core.clock import utc_now
from pbx_sms.core.web_session import SessionLimits
from pbx_sms.db.engine import Database


@dataclass(frozen=True, slots=True)
class WebContext:
    database: Database
    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)

    @property
    def session_limits(self) -> SessionLimits:
        return SessionLimits(idle_s=self.settings.web.session_idle_s, max_s=self.settings.web.session_max_s)
