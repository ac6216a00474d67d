"""`pbx-sms run` killed with SIGKILL during a burst of 500 completed calls, on SQLite and PostgreSQL:
every call completed more than the recording bound before the kill is in the call log, and after a
restart each recorded call gets its SMS exactly once.

The burst: 500 copies of a real missed call (tests/fixtures/in_noanswer), each with its own Linkedid,
channels and caller, sent in 10 chunks of 50 at full speed, 0.2 s apart (5,000 calls/s within a chunk);
the daemon is killed as the last chunk is written. A call is complete one grace period after its last
event; the bound is how long a complete call may then wait unrecorded.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from ami_server import FakeAmiServer, move_to_now
from http_server import LoopbackHttpServer

from e2e.call_copies import copy_of_call, linkedid
from e2e.daemon import AMI_SECRET, AMI_USER, DaemonProcess, DatabaseView, daemon_env, set_up_database, wait_until

CALLS = 500
CHUNKS = 10
CHUNK_GAP_S = 0.2
GRACE_S = 0.2  # the daemon's cdr_grace_s (tests/e2e/daemon.py)
# The 250 ms target with room for a loaded test machine (2 cores, other suites); the measured worst case
# is printed by the test.
RECORDING_BOUND_S = 0.5
STARTUP_TIMEOUT_S = 30.0
RULES = """\
account: default
rules:
  - name: Missed call
    when: {direction: in, numbers: all, status: [no_answer, busy]}
    then:
      sender: ACME
      to: [other_party]
      text: "Sorry we missed you: call {number}."
      delay_s: 5
"""


@pytest.fixture
def http_server() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer() as running:
        yield running


async def test_sigkill_during_a_burst_of_500_completed_calls_loses_none_completed_before_the_bound(
    database_url: str, tmp_path: Path, http_server: LoopbackHttpServer
) -> None:
    set_up_database(database_url, RULES, tmp_path)
    calls = [copy_of_call(number) for number in range(CALLS)]
    assert len({linkedid(call) for call in calls}) == CALLS
    per_chunk = CALLS // CHUNKS
    view = DatabaseView(database_url)
    sent_at_s: dict[str, float] = {}
    try:
        async with FakeAmiServer(username=AMI_USER, secret=AMI_SECRET) as ami:
            env = daemon_env(database_url, ami.port, http_server.url)
            async with DaemonProcess(env, tmp_path, "first") as first:
                session = await ami.wait_sessions(1, STARTUP_TIMEOUT_S)
                for chunk in range(CHUNKS):
                    burst = calls[chunk * per_chunk : (chunk + 1) * per_chunk]
                    moved, _delta_s = move_to_now([block for call in burst for block in call])
                    await session.send_events(moved)
                    written_s = time.time()
                    sent_at_s |= {linkedid(call): written_s for call in burst}
                    if chunk < CHUNKS - 1:
                        await asyncio.sleep(CHUNK_GAP_S)
                first.kill_now()
                killed_at_s = time.time()
                assert await first.wait(10) == -9

            recorded = view.calls()
            complete_for_long = {
                call_id for call_id, at_s in sent_at_s.items() if at_s < killed_at_s - GRACE_S - RECORDING_BOUND_S
            }
            assert len(complete_for_long) >= CALLS // 2, "the premise: half the burst was complete well before the kill"
            missing = sorted(complete_for_long - set(recorded))
            assert not missing, f"{len(missing)} calls complete for longer than the bound were lost: {missing[:5]}"
            waits_s = [
                row["received_at"].timestamp() - sent_at_s[call_id] - GRACE_S for call_id, row in recorded.items()
            ]
            print(
                f"\n{view.engine.dialect.name}: {len(recorded)}/{CALLS} calls recorded before the kill; "
                f"longest from complete (last event + grace) to recorded: {max(waits_s) * 1000:.0f} ms"
            )

            async with DaemonProcess(env, tmp_path, "second") as second:
                await wait_until(lambda: view.settled(set(recorded)), 60, "every recorded call texted")
                assert await second.terminate() == 0, second.output[-3000:]

        assert set(view.calls()) == set(recorded), "the restarted daemon saw no call of the cut burst"
        assert_each_call_texted_once(view, http_server, set(recorded))
    finally:
        view.close()


def assert_each_call_texted_once(view: DatabaseView, http_server: LoopbackHttpServer, call_ids: set[str]) -> None:
    outbox = view.outbox()
    assert Counter(row["call_id"] for row in outbox) == Counter(call_ids), "one SMS row per recorded call"
    assert {row["status"] for row in outbox} == {"sent"}
    keys = Counter(request.json["id"] for request in http_server.requests)
    assert set(keys) == {row["idempotency_key"] for row in outbox}
    assert set(keys.values()) == {1}, "an SMS reached the gateway twice"
    callers = {row["call_id"]: row["recipient"] for row in outbox}
    assert len(set(callers.values())) == len(call_ids), "each call texted its own caller"
