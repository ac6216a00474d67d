"""Wake-ups from other processes: PostgreSQL LISTEN on the outbox channel (enqueue NOTIFYs it).

SQLite has nothing like it; there the worker's poll interval bounds the delay.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import URL

from pbx_sms.db.outbox_table import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


def libpq_url(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_new_rows(url: URL, wake: Callable[[], None], *, max_backoff_s: float = 30.0) -> None:
    """Call ``wake`` for every NOTIFY until cancelled; reconnect with backoff when the connection drops."""
    backoff_s = 0.5
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
                await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                backoff_s = 0.5
                # Rows may have arrived while we were not listening.
                wake()
                async for _notify in conn.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay_s = random.uniform(0, backoff_s)
            log.warning("outbox LISTEN connection lost (%s); polling until it is back", type(exc).__name__)
            await asyncio.sleep(delay_s)
            backoff_s = min(max_backoff_s, backoff_s * 2)
