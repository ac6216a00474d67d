"""Both sources on, in the real daemon: the hangup hook reports a call first (as on a live Asterisk, where the
caller's Hangup event follows its hangup handler), the fake AMI then replays the call's events to the real
listener and tracker; the tracker's full view wins. With AMI down, the hook's view alone is texted at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from ami_server import AmiSession, FakeAmiServer, move_to_now
from daemon_ports import free_port_env
from ports import free_port
from sqlalchemy import select
from tracker_world import IN_VARS, Pbx

from pbx_sms.ami.parser import AmiMessage
from pbx_sms.ami.status import ConnectionState
from pbx_sms.config import Settings, load_settings
from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.daemon.run import Daemon
from pbx_sms.db.calls_table import calls_table
from pbx_sms.hangup.mapping import HookArguments, map_call
from pbx_sms.intake.calls import record_call
from pbx_sms.storage.database import open_database
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules

PBX = "pbx-views"
CALLER = "+48607890123"
# No delays: an SMS planned from the hook's view alone would leave at once.
RULES = """
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed you"}
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered], talk_s: {min: 5}}
    then: {sender: ACME, to: [other_party], text: "Thanks for {talk_s} s"}
"""
TIMEOUT_S = 20.0


def as_bytes(message: AmiMessage) -> bytes:
    lines = [f"{key}: {value}" for key, value in message.fields.items()]
    lines += [f"ChanVariable: {name}={value}" for name, value in message.chan_vars.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def queue_answered_by_a_person() -> tuple[Pbx, str, dict[str, str]]:
    """Queue() without membergosub: the PBX answers, a member takes the call after 10 s, talks 31 s. The
    caller's channel has no DIALSTATUS, QUEUESTATUS or answer time (Asterisk 22.0–22.8)."""
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller=CALLER)
    pbx.set_vars(0.01, trunk, IN_VARS)
    pbx.state(0.1, trunk, "6")
    member = pbx.new(1.0, "PJSIP/201-02", trunk.linkedid, caller="201")
    member.chan_vars = dict(IN_VARS)
    pbx.dial_begin(1.0, trunk, member)
    pbx.dial_end(10.2, trunk, member, "ANSWER")
    pbx.bridge(10.3, "b1", member, trunk)
    pbx.bridge(41.5, "b1", member, trunk, enter=False)
    pbx.hangup(41.5, member)
    pbx.hangup(41.6, trunk)
    return pbx, trunk.linkedid, {"asterisk_version": "22.8.2"}


def greeting_then_a_person() -> tuple[Pbx, str, dict[str, str]]:
    """Answer(), a greeting, then Dial() without U(): the person talks 4 s; ANSWEREDTIME, the caller
    channel's up time, says 10."""
    pbx = Pbx()
    trunk = pbx.new(0, "PJSIP/trunk-01", context="from-trunk", exten="48221234567", caller=CALLER)
    pbx.set_vars(0.01, trunk, IN_VARS)
    pbx.state(0.1, trunk, "6")
    phone = pbx.new(6.0, "PJSIP/201-02", trunk.linkedid, caller="201")
    phone.chan_vars = dict(IN_VARS)
    pbx.dial_begin(6.0, trunk, phone)
    pbx.dial_end(6.4, trunk, phone, "ANSWER")
    pbx.bridge(6.4, "b1", phone, trunk)
    pbx.bridge(10.5, "b1", phone, trunk, enter=False)
    pbx.hangup(10.5, phone)
    pbx.hangup(10.6, trunk)
    return pbx, trunk.linkedid, {"dial_status": "ANSWER", "answered_time": "10", "asterisk_version": "22.8.2"}


def hook_report(linkedid: str, end_s: float, **channel: str) -> HookArguments:
    values = {
        "linkedid": linkedid,
        "direction": "in",
        "start_epoch": str(int(end_s - 40)),
        "end_epoch": str(int(end_s)),
        "dial_status": "",
        "answered_time": "",
        "queue_status": "",
        "member_interface": "",
        "answered_epoch": "",
        "hangup_cause": "16",
        "did": "+48221234567",
        "other_party": CALLER,
        **channel,
    }
    return HookArguments(**values)


def prepare(database_url: str) -> None:
    database = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    try:
        with database.session() as session:
            add_sender(session, "ACME", "default")
            add_number(session, "+48221234567", "default")
            import_rules(session, [RuleSource("rules.yaml", "default", parse_rule_text(RULES).rules)])
    finally:
        database.close()


def settings_for(database_url: str, tmp_path: Path, ami_port: int, hook_wait_s: float) -> Settings:
    return load_settings(
        None,
        {
            "PBX_SMS_DATABASE_URL": database_url,
            "PBX_SMS_AMI_HOST": "127.0.0.1",
            "PBX_SMS_AMI_PORT": str(ami_port),
            "PBX_SMS_AMI_SECRET": "s3cret",
            "PBX_SMS_AMI_RECONNECT_MIN_S": "5",
            "PBX_SMS_PBX_NAME": PBX,
            "PBX_SMS_LOG_PATH": str(tmp_path / "sms.jsonl"),
            "PBX_SMS_CDR_GRACE_S": "0.2",
            "PBX_SMS_HOOK_WAIT_S": str(hook_wait_s),
        }
        | free_port_env(),
    )


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[None]:
    task = asyncio.create_task(daemon.run())
    try:
        yield
    finally:
        daemon.stop()
        await asyncio.wait_for(task, TIMEOUT_S)


def processed(daemon: Daemon, linkedid: str) -> dict[str, object] | None:
    with daemon.database.engine.connect() as conn:
        query = select(calls_table).where(calls_table.c.call_id == linkedid, calls_table.c.processed_at.is_not(None))
        row = conn.execute(query).mappings().first()
        return dict(row) if row else None


def sent_texts(tmp_path: Path) -> list[str]:
    log = tmp_path / "sms.jsonl"
    return [json.loads(line)["text"] for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize(
    ("scenario", "texted"),
    [(queue_answered_by_a_person, ["Thanks for 31 s"]), (greeting_then_a_person, [])],
    ids=["queue-answered-by-a-person", "greeting-then-a-person"],
)
async def test_the_trackers_full_view_after_the_hooks_weaker_one_decides_what_is_texted(
    database_url: str, tmp_path: Path, scenario: Callable[[], tuple[Pbx, str, dict[str, str]]], texted: list[str]
) -> None:
    prepare(database_url)
    pbx, linkedid, channel = scenario()
    blocks, _ = move_to_now([as_bytes(message) for message in pbx.events])
    replay_now = asyncio.Event()

    async def handler(session: AmiSession) -> None:
        await replay_now.wait()
        await session.send_events(blocks)

    async with FakeAmiServer(secret="s3cret", handler=handler) as server:
        daemon = Daemon(settings_for(database_url, tmp_path, server.port, hook_wait_s=15))
        async with running(daemon):
            await wait_until(lambda: daemon.listener.status.connection.state == ConnectionState.UP, "AMI up")
            hook = map_call(hook_report(linkedid, time.time(), **channel), "PL").call
            assert hook is not None and hook.evidence == "hint"
            assert await asyncio.to_thread(record_call, daemon.database.engine, hook, PBX, "agi", hook.ended_at)
            await asyncio.sleep(1.5)  # past a round of the processing loop: the hook's view waits
            assert processed(daemon, linkedid) is None
            replay_now.set()
            await wait_until(lambda: processed(daemon, linkedid) is not None, "the call processed")
            if texted:
                await wait_until(lambda: len(sent_texts(tmp_path)) >= len(texted), "the SMS sent")
            row = processed(daemon, linkedid)
            assert row is not None
            assert (row["evidence"], row["source"], row["views_disagree"]) == ("full", "ami", True)
            assert json.loads(str(row["other_view"]))["evidence"] == "hint"
            assert daemon.status_details()["calls"]["views_disagreed"] == 1
    assert sent_texts(tmp_path) == texted


async def test_with_ami_down_the_hooks_view_alone_is_texted_without_waiting(database_url: str, tmp_path: Path) -> None:
    prepare(database_url)
    daemon = Daemon(settings_for(database_url, tmp_path, free_port(), hook_wait_s=60))  # nothing listens there
    async with running(daemon):
        hook = map_call(hook_report("1795000000.9", time.time()), "PL").call
        assert hook is not None
        started_s = time.monotonic()
        await asyncio.to_thread(record_call, daemon.database.engine, hook, PBX, "agi", hook.ended_at)
        await wait_until(lambda: sent_texts(tmp_path) == ["Sorry we missed you"], "the hook's SMS")
        assert time.monotonic() - started_s < 30  # not held for the 60 s wait
        assert daemon.status_details()["ami"]["state"] != "up"
