"""The call recorder: completed calls reach the call log in batches, a burst in few transactions; a
database outage is waited out with a growing delay for as long as it lasts, a call whose own error
comes back every time is dropped after a few tries without taking its batch with it."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from pbx_sms.core.call import CompletedCall
from pbx_sms.intake.recorder import MAX_BATCH_CALLS, MAX_OTHER_ERRORS, CallRecorder

END = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def call(call_id: str) -> CompletedCall:
    return CompletedCall(call_id, "in", "+48221234567", "+48601234567", "no_answer", 0, END, END)


def outage() -> OperationalError:
    return OperationalError("INSERT INTO calls", {}, Exception("connection refused"))


class FlakyLog:
    """Stands in for the call log: fails with the given errors, in order, then stores each batch;
    a call named "bad" fails every time."""

    def __init__(self, errors: Sequence[Exception] = ()) -> None:
        self.errors = list(errors)
        self.attempts = 0
        self.batches: list[list[str]] = []
        self.sources: list[str] = []

    def record(self, batch: Sequence[CompletedCall], source: str) -> None:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        if any(item.call_id == "bad" for item in batch):
            raise ValueError("bad call")
        self.batches.append([item.call_id for item in batch])
        self.sources.append(source)

    @property
    def recorded(self) -> list[str]:
        return [call_id for batch in self.batches for call_id in batch]


class Run:
    def __init__(self, log: FlakyLog) -> None:
        self.delays_s: list[float] = []
        self.wakes = 0
        self.recorder = CallRecorder(log.record, self._woken, sleep=self._sleep)

    def _woken(self) -> None:
        self.wakes += 1

    async def _sleep(self, delay_s: float) -> None:
        self.delays_s.append(delay_s)

    async def record(self, *call_ids: str, stop_first: bool = False) -> None:
        """Hand the calls over, wait until none is left unrecorded (or, ``stop_first``, stop at once)."""
        recording = asyncio.create_task(self.recorder.run())
        for call_id in call_ids:
            self.recorder.add(call(call_id))
        if not stop_first:
            while self.recorder.unrecorded:
                await asyncio.sleep(0.001)
        self.recorder.stop()
        await asyncio.wait_for(recording, 10)


async def test_a_database_outage_is_waited_out_however_many_tries_it_takes_with_a_growing_delay() -> None:
    log = FlakyLog([outage() for _ in range(MAX_OTHER_ERRORS + 4)])
    run = Run(log)
    await run.record("1.1")
    assert log.recorded == ["1.1"]
    assert run.delays_s == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert (run.recorder.record_errors, run.recorder.dropped, run.wakes) == (MAX_OTHER_ERRORS + 4, 0, 1)


async def test_a_call_whose_own_error_comes_back_is_dropped_after_a_few_tries(caplog: pytest.LogCaptureFixture) -> None:
    log = FlakyLog()
    run = Run(log)
    await run.record("bad")
    assert (log.attempts, log.recorded, run.recorder.dropped) == (MAX_OTHER_ERRORS, [], 1)
    assert "call bad cannot be recorded (bad call); dropped" in caplog.text


async def test_one_bad_call_does_not_take_its_batch_with_it() -> None:
    log = FlakyLog()
    run = Run(log)
    await run.record("1.1", "bad", "1.3")
    assert log.recorded == ["1.1", "1.3"]
    assert run.recorder.dropped == 1


async def test_outage_errors_do_not_count_toward_dropping_a_call() -> None:
    log = FlakyLog([ValueError("once"), outage(), outage(), outage(), ValueError("twice")])
    run = Run(log)
    await run.record("1.1")
    assert (log.recorded, log.attempts) == (["1.1"], 6)


async def test_an_outage_while_stopping_loses_the_calls_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    log = FlakyLog([outage()])
    run = Run(log)
    await run.record("1.1", stop_first=True)
    assert (log.recorded, run.recorder.dropped) == ([], 1)
    assert "call 1.1 not recorded (" in caplog.text and "stopping, so it is lost" in caplog.text


async def test_a_burst_is_written_in_few_batches_and_a_lone_call_at_once() -> None:
    log = FlakyLog()
    run = Run(log)
    recording = asyncio.create_task(run.recorder.run())
    run.recorder.add(call("0"))
    await asyncio.sleep(0.05)
    assert log.batches == [["0"]], "a lone call does not wait for company"
    for number in range(1, 2 * MAX_BATCH_CALLS + 2):
        run.recorder.add(call(str(number)))
    run.recorder.stop()
    await asyncio.wait_for(recording, 10)
    assert [len(batch) for batch in log.batches] == [1, MAX_BATCH_CALLS, MAX_BATCH_CALLS, 1]
    assert run.recorder.unrecorded == 0


async def test_calls_completed_during_a_write_go_into_the_next_batch_together() -> None:
    writing = threading.Event()
    release = threading.Event()
    batches: list[list[str]] = []

    def slow_record(batch: Sequence[CompletedCall], _source: str) -> None:
        writing.set()
        release.wait(5)
        batches.append([item.call_id for item in batch])

    recorder = CallRecorder(slow_record, lambda: None)
    recording = asyncio.create_task(recorder.run())
    recorder.add(call("first"))
    await asyncio.to_thread(writing.wait, 5)
    for number in range(50):
        recorder.add(call(str(number)))
    assert recorder.unrecorded == 51  # the batch being written counts until it is written
    release.set()
    recorder.stop()
    await asyncio.wait_for(recording, 10)
    assert [len(batch) for batch in batches] == [1, 50]
    assert recorder.max_wait_s > 0


async def test_a_batch_of_both_sources_is_one_write_per_source_in_order_of_first_appearance() -> None:
    log = FlakyLog()
    recorder = CallRecorder(log.record, lambda: None)
    for call_id, source in (("a1", "agi"), ("m1", "ami"), ("a2", "agi"), ("m2", "ami")):
        recorder.add(call(call_id), source)
    recorder.stop()
    await asyncio.wait_for(recorder.run(), 10)
    assert (log.batches, log.sources) == ([["a1", "a2"], ["m1", "m2"]], ["agi", "ami"])
    assert recorder.unrecorded == 0
