"""Start-up: wait for the database instead of failing, the way the AMI side waits for Asterisk.

PostgreSQL down, a host name that does not resolve yet, a SQLite directory not mounted yet: each is an
outage (pbx_sms.db.errors), waited out with backoff, one warning line naming what is unreachable (the URL
without its password), a reminder a minute, and systemd told (STATUS=, and the start timeout pushed back
while waiting). SIGTERM while waiting stops at once. Anything else (a bad URL, a failed migration) is
not an outage and is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from pbx_sms.config import Settings
from pbx_sms.core.backoff import Backoff, Jitter, RandomSource
from pbx_sms.daemon.probes import in_daemon_thread
from pbx_sms.daemon.sd_notify import Notifier
from pbx_sms.db.engine import Database
from pbx_sms.db.errors import is_database_outage
from pbx_sms.db.url import normalise_database_url, safe_url
from pbx_sms.storage.database import open_database_from_settings

log = logging.getLogger("pbx_sms.daemon")

# Equal jitter: daemons of several PBXs that lost one database together do not all come back at once.
DATABASE_RETRY = Backoff(base_s=1.0, cap_s=30.0, jitter=Jitter.EQUAL)
REMIND_EVERY_S = 60.0
# While waiting, systemd's start timeout is pushed this far ahead, this often.
EXTEND_START_BY_S = 30.0
EXTEND_START_EVERY_S = 10.0


def database_name(settings: Settings) -> str:
    try:
        return safe_url(normalise_database_url(settings.database_url))
    except ValueError:
        return "(invalid PBX_SMS_DATABASE_URL)"


def outage_reason(error: BaseException) -> str:
    """The driver's own first line (connection refused, unknown host, unable to open file): no password
    is in it (libpq and sqlite3 never print one), and SQLAlchemy's wrapping is left out."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0].strip() if lines else type(original).__name__


async def open_database_when_up(
    settings: Settings,
    notifier: Notifier,
    stop: asyncio.Event,
    *,
    open_database: Callable[[Settings], Database] = open_database_from_settings,
    backoff: Backoff = DATABASE_RETRY,
    rand: RandomSource | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Database | None:
    """The opened database (schema upgraded), once it answers; None when ``stop`` was set first."""
    rand = rand or random.Random()
    name = database_name(settings)
    extender = asyncio.create_task(_extend_start_timeout(notifier), name="systemd-start-timeout")
    attempt = 0
    waiting_since = clock()
    reminded_at = waiting_since
    try:
        while True:
            if attempt == 0:  # retries keep the waiting line: it says what is wrong
                notifier.status(f"opening the database {name}")
            opening = asyncio.ensure_future(in_daemon_thread(lambda: open_database(settings), timeout_s=None))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({opening, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not opening.done():
                opening.cancel()  # the thread goes on alone; the process is about to exit
                log.info("stopped while waiting for the database %s", name)
                return None
            error = opening.exception()
            if error is None:
                if attempt:
                    log.info("database %s answers after %.0f s; starting", name, clock() - waiting_since)
                return opening.result()
            if not is_database_outage(error):
                raise error
            delay_s = backoff.delay_s(attempt, rand)
            attempt += 1
            reason = outage_reason(error)
            if attempt == 1:
                log.warning("database %s unreachable (%s); waiting for it, retry in %.1f s", name, reason, delay_s)
            elif clock() - reminded_at >= REMIND_EVERY_S:
                reminded_at = clock()
                log.warning(
                    "database %s still unreachable after %.0f s, %d attempts (%s); retry in %.1f s",
                    name,
                    reminded_at - waiting_since,
                    attempt,
                    reason,
                    delay_s,
                )
            notifier.status(f"waiting for the database {name}: {reason} (attempt {attempt}, next in {delay_s:.0f} s)")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s):
                    await stop.wait()
            if stop.is_set():
                log.info("stopped while waiting for the database %s", name)
                return None
    finally:
        extender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await extender


async def _extend_start_timeout(notifier: Notifier) -> None:
    if not notifier.enabled:
        return
    while True:
        notifier.extend_timeout(EXTEND_START_BY_S)
        await asyncio.sleep(EXTEND_START_EVERY_S)
