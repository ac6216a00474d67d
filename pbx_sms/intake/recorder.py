"""Completed calls into the call log in batches, so no completed call is held only in memory for long.

The listener hands calls over as they complete (``add``, never blocking); one task writes whatever has
gathered in one transaction, then the next batch: a burst gathers into large batches by itself
(group commit) and a quiet line writes each call at once. So a completed call waits at most about
two batch writes before it is in the database; a ``kill -9`` loses only calls younger than that.

Failures: a database outage (``is_database_outage``) is waited out with backoff, the calls kept; any
other error is retried a few times, then the batch is written call by call so that one bad call is
dropped (and logged) without the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from pbx_sms.core.backoff import Backoff, Jitter
from pbx_sms.core.call import CompletedCall
from pbx_sms.db.errors import is_database_outage

log = logging.getLogger(__name__)

# Big enough that a burst of any size AMI can deliver is a few transactions, small enough that one
# transaction stays short.
MAX_BATCH_CALLS = 1000
# No jitter: one daemon retrying its own calls has nobody to fall out of step with.
RETRY = Backoff(0.5, 30.0, Jitter.NONE)
MAX_OTHER_ERRORS = 3

# (calls, source): the source ("ami", "agi") says who reported them.
RecordCalls = Callable[[Sequence[CompletedCall], str], object]
DEFAULT_SOURCE = "ami"


class CallRecorder:
    """Owns the completed calls not yet in the call log; ``record`` (synchronous, run in a thread)
    writes one batch of one source; ``on_recorded`` is told after each written batch. Calls of the
    AMI listener and of the FastAGI server share it: a batch holding both is written as one
    ``record`` per source, in the order each source first appears in it."""

    def __init__(
        self,
        record: RecordCalls,
        on_recorded: Callable[[], None],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._record = record
        self._on_recorded = on_recorded
        self._monotonic = monotonic
        self._sleep = sleep
        self._pending: list[tuple[float, CompletedCall, str]] = []
        self._arrived = asyncio.Event()
        self._stopping = False
        self.record_errors = 0
        self.dropped = 0
        self.batches = 0
        # The longest a call waited between add() and its batch being committed, as measured.
        self.max_wait_s = 0.0

    @property
    def unrecorded(self) -> int:
        """Completed calls not in the call log yet (the batch being written included)."""
        return len(self._pending)

    def add(self, call: CompletedCall, source: str = DEFAULT_SOURCE) -> None:
        self._pending.append((self._monotonic(), call, source))
        self._arrived.set()

    def stop(self) -> None:
        """Write what is pending, then let run() return (an outage then loses the pending calls)."""
        self._stopping = True
        self._arrived.set()

    async def run(self) -> None:
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            # Taken off only once written: until then they count as unrecorded.
            batch = self._pending[:MAX_BATCH_CALLS]
            by_source: dict[str, list[CompletedCall]] = {}
            for _, call, source in batch:
                by_source.setdefault(source, []).append(call)
            for source, calls in by_source.items():
                await self._write(calls, source)
            del self._pending[: len(batch)]
            done_s = self._monotonic()
            self.max_wait_s = max(self.max_wait_s, done_s - batch[0][0])
            self.batches += 1
            self._on_recorded()

    async def _write(self, batch: list[CompletedCall], source: str) -> None:
        outages = 0
        other_errors = 0
        while True:
            try:
                await asyncio.to_thread(self._record, batch, source)
                return
            except Exception as exc:
                self.record_errors += 1
                if not is_database_outage(exc):
                    # Not the database being away: the same error would come back every time.
                    other_errors += 1
                    if other_errors >= MAX_OTHER_ERRORS:
                        await self._write_one_by_one(batch, source, exc)
                        return
                if self._stopping:
                    self.dropped += len(batch)
                    for call in batch:
                        log.error(
                            "call %s not recorded (%s); stopping, so it is lost: %s", call.call_id, exc, _as_json(call)
                        )
                    return
                delay_s = RETRY.delay_s(outages, random)
                outages += 1
                log.warning("%d calls not recorded yet (%s); retrying in %g s", len(batch), exc, delay_s)
                await self._sleep(delay_s)

    async def _write_one_by_one(self, batch: list[CompletedCall], source: str, error: Exception) -> None:
        if len(batch) == 1:
            log.error("call %s cannot be recorded (%s); dropped: %s", batch[0].call_id, error, _as_json(batch[0]))
            self.dropped += 1
            return
        for call in batch:
            await self._write([call], source)


def _as_json(call: CompletedCall) -> str:
    return json.dumps(call.to_json(), ensure_ascii=False)
