"""Two PBXs on one PostgreSQL database: two `pbx-sms run` daemons (PBX_SMS_PBX_NAME pbx-a and pbx-b),
each with its own fake AMI replaying the same calls (the same Linkedids).

Into different accounts: each PBX's calls are recorded once under its own identity, every SMS is sent
once, none is lost. Into one account: its limits (a rule's minimum interval, the daily cap) hold across
both PBXs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from ami_server import FakeAmiServer, move_to_now
from http_server import LoopbackHttpServer
from sqlalchemy import select

from e2e.call_copies import copy_of_call, linkedid
from e2e.daemon import AMI_SECRET, AMI_USER, DaemonProcess, DatabaseView, admin, daemon_env, wait_until
from pbx_sms.db.calls_table import calls_table

CALLS = 10
STARTUP_TIMEOUT_S = 30.0
PBXS = ("pbx-a", "pbx-b")


def rules(account: str, extra: str = "") -> str:
    return f"""\
account: {account}
rules:
  - name: Missed call
    when: {{direction: in, numbers: all, status: [no_answer, busy]}}
    then:
      sender: ACME
      to: [other_party]
      text: "Sorry we missed you: call {{number}}."
{extra}"""


@pytest.fixture
def http_server() -> Iterator[LoopbackHttpServer]:
    with LoopbackHttpServer() as running:
        yield running


def calls_by_pbx(view: DatabaseView) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    with view.engine.connect() as conn:
        for pbx, call_id in conn.execute(select(calls_table.c.pbx, calls_table.c.call_id)):
            found.setdefault(pbx, set()).add(call_id)
    return found


def import_rules(database_url: str, workdir: Path, name: str, text: str) -> None:
    path = workdir / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    admin(database_url, "rules", "import", str(path))


async def run_both(
    database_url: str,
    workdir: Path,
    http_server: LoopbackHttpServer,
    streams: Sequence[list[bytes]],
    call_ids: set[str],
) -> DatabaseView:
    """Both daemons, each fed its stream by its own fake AMI, until every call is handled; then stopped."""
    view = DatabaseView(database_url)
    async with AsyncExitStack() as stack:
        daemons = []
        for pbx, blocks in zip(PBXS, streams, strict=True):
            ami = await stack.enter_async_context(FakeAmiServer(username=AMI_USER, secret=AMI_SECRET))
            env = daemon_env(database_url, ami.port, http_server.url, pbx_name=pbx)
            daemon = await stack.enter_async_context(DaemonProcess(env, workdir, pbx))
            session = await ami.wait_sessions(1, STARTUP_TIMEOUT_S)
            daemons.append((daemon, session, blocks))
        for _daemon, session, blocks in daemons:
            await session.send_events(move_to_now(blocks)[0])

        def all_handled() -> bool:
            recorded = calls_by_pbx(view)
            return all(recorded.get(pbx) == call_ids for pbx in PBXS) and view.settled(call_ids)

        await wait_until(all_handled, 60, "both PBXs' calls recorded and every SMS settled")
        for daemon, _session, _blocks in daemons:
            assert await daemon.terminate() == 0, daemon.output[-3000:]
    return view


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_each_pbx_records_its_own_calls_once_and_every_sms_goes_once(
    database_url: str, tmp_path: Path, http_server: LoopbackHttpServer
) -> None:
    company = {"pbx-a": "48221234569", "pbx-b": "48221234570"}
    for pbx in PBXS:
        admin(database_url, "accounts", "add", pbx)
        admin(database_url, "senders", "add", "ACME", "--account", pbx)
        admin(database_url, "numbers", "add", f"+{company[pbx]}", "--account", pbx)
        import_rules(database_url, tmp_path, pbx, rules(pbx))
    streams = [[block for number in range(CALLS) for block in copy_of_call(number, company[pbx])] for pbx in PBXS]
    call_ids = {linkedid(copy_of_call(number)) for number in range(CALLS)}

    view = await run_both(database_url, tmp_path, http_server, streams, call_ids)
    try:
        # The same Linkedids, once per PBX, each PBX's under its own name.
        assert calls_by_pbx(view) == {pbx: call_ids for pbx in PBXS}
        outbox = view.outbox()
        assert Counter((row["pbx"], row["call_id"]) for row in outbox) == Counter(
            {(pbx, call_id): 1 for pbx in PBXS for call_id in call_ids}
        )
        assert {row["status"] for row in outbox} == {"sent"}
        keys = Counter(request.json["id"] for request in http_server.requests)
        assert set(keys) == {row["idempotency_key"] for row in outbox} and set(keys.values()) == {1}
        texts = Counter(request.json["text"] for request in http_server.requests)
        assert texts == {f"Sorry we missed you: call +{company[pbx]}.": CALLS for pbx in PBXS}
    finally:
        view.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_one_accounts_limits_hold_across_both_pbxs(
    database_url: str, tmp_path: Path, http_server: LoopbackHttpServer
) -> None:
    daily_cap = 6
    admin(database_url, "senders", "add", "ACME")
    admin(database_url, "accounts", "set", "default", "--daily-cap", str(daily_cap))
    import_rules(database_url, tmp_path, "default", rules("default", "      min_interval_s: 86400\n"))
    stream = [block for number in range(CALLS) for block in copy_of_call(number)]
    call_ids = {linkedid(copy_of_call(number)) for number in range(CALLS)}

    view = await run_both(database_url, tmp_path, http_server, [stream, stream], call_ids)
    try:
        assert calls_by_pbx(view) == {pbx: call_ids for pbx in PBXS}
        outbox = view.outbox()
        assert len(outbox) == 2 * CALLS, "one row per call of each PBX"
        sent = [row for row in outbox if row["status"] == "sent"]
        # The cap counts both PBXs' SMS, and no caller is texted twice from the two PBXs.
        assert len(sent) == daily_cap
        assert len({row["recipient"] for row in sent}) == daily_cap
        assert len(http_server.requests) == daily_cap
        suppressed = Counter(row["reason"] for row in outbox if row["status"] == "suppressed")
        assert sum(suppressed.values()) == 2 * CALLS - daily_cap
        assert set(suppressed) <= {"min_interval", "daily_cap_reached"} and suppressed["min_interval"] >= 1, suppressed
    finally:
        view.close()
