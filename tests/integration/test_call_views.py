"""Two views of one call at the intake, on SQLite and PostgreSQL: the better evidence is the truth, whichever
came first; both are in the call log; SMS the weaker view queued are re-planned until they went out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from integration.test_quiet_hours_storage import columns, migrate
from pbx_sms.core.call import CompletedCall
from pbx_sms.core.reasons import Reason
from pbx_sms.core.rulefile import parse_rule_text
from pbx_sms.core.sms_status import Status
from pbx_sms.db.calls_table import calls_table
from pbx_sms.db.engine import Database
from pbx_sms.hangup.mapping import HookArguments, map_call
from pbx_sms.intake.calls import pending_calls, record_call
from pbx_sms.intake.service import CallIntake
from pbx_sms.outbox.model import Sent
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.config_cache import ConfigCache
from pbx_sms.storage.database import open_database
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.rule_store import RuleSource, import_rules

PBX = "pbx-1"
CALLER = "+48601234567"
RULES = """
account: default
rules:
  - name: Missed
    when: {direction: in, numbers: all, status: [no_answer]}
    then: {sender: ACME, to: [other_party], text: "Sorry we missed you", delay_s: 60}
  - name: Thanks
    when: {direction: in, numbers: all, status: [answered], talk_s: {min: 5}}
    then: {sender: ACME, to: [other_party], text: "Thanks for {talk_s} s", delay_s: 30}
"""
END = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
END_S = int(END.timestamp())


class Clock:
    def __init__(self) -> None:
        self.now = END + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = open_database(database_url, timezone="Europe/Warsaw", country="PL")
    with database.session() as session:
        add_sender(session, "ACME", "default")
        add_number(session, "+48221234567", "default")
        import_rules(session, [RuleSource("rules.yaml", "default", parse_rule_text(RULES).rules)])
    yield database
    database.close()


def intake_of(database: Database, clock: Clock, wait_s: float = 0.0, ami_up: bool = True) -> CallIntake:
    return CallIntake(
        database,
        SqlOutbox(database.engine),
        ConfigCache(database, check_interval_s=0),
        pbx=PBX,
        clock=clock,
        hook_wait_s=wait_s,
        better_view_possible=lambda: ami_up,
    )


def hook_view(call_id: str, **channel: str) -> CompletedCall:
    """What the hangup hook maps from the caller's channel (``channel``: the dialplan's values)."""
    values = {
        "linkedid": call_id,
        "direction": "in",
        "start_epoch": str(END_S - 40),
        "end_epoch": str(END_S),
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
    outcome = map_call(HookArguments(**values), "PL", 5)
    assert outcome.call is not None, outcome.reason
    return outcome.call


def ami_view(call_id: str, status: str, talk_s: int) -> CompletedCall:
    return CompletedCall(call_id, "in", "+48221234567", CALLER, status, talk_s, END - timedelta(seconds=40), END)  # type: ignore[arg-type]


# The two live cases (Asterisk 22 with both sources on).
QUEUE_ANSWERED_BY_A_PERSON = ("q.1", {}, ("answered", 31))  # queue without membergosub: the hook sees nothing
# Answered by the PBX, a greeting, then Dial() to a person without U(): ANSWEREDTIME counts the greeting.
GREETING_THEN_PERSON = ("g.1", {"dial_status": "ANSWER", "answered_time": "10"}, ("answered", 4))


def sms_of(database: Database, call_id: str) -> dict[str, tuple[Status, Reason | None, str]]:
    rows = SqlOutbox(database.engine).list()
    return {row.rule_name: (row.status, row.reason, row.text) for row in rows if row.call_id == call_id}


def call_row(database: Database, call_id: str) -> dict[str, object]:
    with database.engine.connect() as conn:
        row = conn.execute(select(calls_table).where(calls_table.c.call_id == call_id)).mappings().one()
        return dict(row)


def test_queue_call_a_person_answered_the_ami_view_after_the_hooks_no_answer_sends_no_missed_sms(
    database: Database,
) -> None:
    call_id, channel, (status, talk_s) = QUEUE_ANSWERED_BY_A_PERSON
    clock = Clock()
    intake = intake_of(database, clock, wait_s=5)
    hook = hook_view(call_id, **channel)
    assert (hook.status, hook.evidence) == ("no_answer", "hint")
    assert record_call(database.engine, hook, PBX, "agi", clock())  # the hook reports first
    assert intake.process_pending() == 0  # waits for the AMI view
    clock.now += timedelta(seconds=1)
    intake.record([ami_view(call_id, status, talk_s)], "ami")
    assert intake.process_pending() == 1
    assert sms_of(database, call_id) == {"Thanks": (Status.QUEUED, None, "Thanks for 31 s")}
    row = call_row(database, call_id)
    assert (row["status"], row["talk_s"], row["evidence"], row["source"], row["views_disagree"]) == (
        "answered",
        31,
        "full",
        "ami",
        True,
    )
    other = json.loads(str(row["other_view"]))
    assert (other["source"], other["evidence"], other["status"]) == ("agi", "hint", "no_answer")
    assert (intake.views_disagreed, intake.views_replaced, intake.duplicate_reports) == (1, 1, 1)


def test_greeting_then_a_person_the_ami_talk_time_wins_and_a_five_second_rule_sends_nothing(
    database: Database,
) -> None:
    call_id, channel, (status, talk_s) = GREETING_THEN_PERSON
    clock = Clock()
    intake = intake_of(database, clock, wait_s=5)
    hook = hook_view(call_id, **channel)
    assert (hook.status, hook.talk_s) == ("answered", 10)
    record_call(database.engine, hook, PBX, "agi", clock())
    intake.record([ami_view(call_id, status, talk_s)], "ami")
    intake.process_pending()
    assert sms_of(database, call_id) == {}
    assert call_row(database, call_id)["talk_s"] == 4


@pytest.mark.parametrize(("call_id", "channel", "ami"), [QUEUE_ANSWERED_BY_A_PERSON, GREETING_THEN_PERSON])
def test_a_better_view_after_the_weaker_one_was_processed_replans_its_queued_sms(
    database: Database, call_id: str, channel: dict[str, str], ami: tuple[str, int]
) -> None:
    clock = Clock()
    intake = intake_of(database, clock, wait_s=0)  # nothing waits: the hook's view is processed alone first
    record_call(database.engine, hook_view(call_id, **channel), PBX, "agi", clock())
    assert intake.process_pending() == 1
    weaker = sms_of(database, call_id)
    assert [status for status, _, _ in weaker.values()] == [Status.QUEUED]  # Missed, or Thanks for 10 s
    intake.record([ami_view(call_id, *ami)], "ami")
    assert intake.process_pending() == 1
    after = sms_of(database, call_id)
    weaker_rule = next(iter(weaker))
    if weaker_rule == "Missed":
        assert after["Missed"][:2] == (Status.CANCELLED, Reason.REPLANNED)
        assert after["Thanks"] == (Status.QUEUED, None, "Thanks for 31 s")
    else:
        assert after == {"Thanks": (Status.CANCELLED, Reason.REPLANNED, "Thanks for 10 s")}
    assert call_row(database, call_id)["replan"] is False
    assert pending_calls(database.engine, PBX) == []


def test_after_the_weaker_views_sms_went_out_the_better_view_is_only_recorded(database: Database) -> None:
    clock = Clock()
    intake = intake_of(database, clock)
    record_call(database.engine, hook_view("s.1"), PBX, "agi", clock())
    intake.process_pending()
    outbox = SqlOutbox(database.engine)
    clock.now = END + timedelta(seconds=61)
    [missed] = outbox.claim_due("w1", clock.now, 10, 30.0)
    outbox.apply("w1", [Sent(missed.id, "log", "m-1")], clock.now)
    intake.record([ami_view("s.1", "answered", 31)], "ami")
    assert intake.process_pending() == 1
    assert sms_of(database, "s.1") == {"Missed": (Status.SENT, None, "Sorry we missed you")}
    assert call_row(database, "s.1")["status"] == "answered"  # recorded: the operator sees what was true
    assert intake.views_disagreed == 1


def test_a_weaker_view_after_the_better_one_is_recorded_beside_it_and_changes_nothing(database: Database) -> None:
    clock = Clock()
    intake = intake_of(database, clock)
    intake.record([ami_view("w.1", "answered", 31)], "ami")
    intake.process_pending()
    before = sms_of(database, "w.1")
    intake.record([hook_view("w.1")], "agi")  # a spawned hook that was slow this time
    assert intake.process_pending() == 0
    assert sms_of(database, "w.1") == before
    row = call_row(database, "w.1")
    assert (row["evidence"], row["views_disagree"]) == ("full", True)
    assert json.loads(str(row["other_view"]))["evidence"] == "hint"
    assert (intake.views_disagreed, intake.views_replaced) == (1, 0)


def test_views_that_agree_are_not_counted_as_disagreeing(database: Database) -> None:
    clock = Clock()
    intake = intake_of(database, clock)
    hook = hook_view("a.1", answered_epoch=str(END_S - 31))
    assert (hook.status, hook.talk_s, hook.evidence) == ("answered", 31, "hook")
    record_call(database.engine, hook, PBX, "agi", clock())
    intake.record([ami_view("a.1", "answered", 31)], "ami")
    assert (intake.views_disagreed, intake.views_replaced) == (0, 1)
    assert call_row(database, "a.1")["views_disagree"] is False


def test_the_hooks_view_alone_is_processed_at_once_when_ami_is_off_or_down_and_after_the_wait(
    database: Database,
) -> None:
    clock = Clock()
    down = intake_of(database, clock, wait_s=5, ami_up=False)
    record_call(database.engine, hook_view("d.1"), PBX, "agi", clock())
    assert down.process_pending() == 1
    assert sms_of(database, "d.1")["Missed"][0] == Status.QUEUED
    up = intake_of(database, clock, wait_s=5, ami_up=True)
    record_call(database.engine, hook_view("d.2"), PBX, "agi", clock())
    assert up.process_pending() == 0
    clock.now += timedelta(seconds=4.9)
    assert up.process_pending() == 0
    clock.now += timedelta(seconds=0.2)  # the AMI view never came: the hook's is all there is
    assert up.process_pending() == 1
    assert sms_of(database, "d.2")["Missed"][0] == Status.QUEUED


def test_a_better_view_recorded_while_the_weaker_one_is_processed_is_processed_after_it(database: Database) -> None:
    clock = Clock()
    intake = intake_of(database, clock)
    record_call(database.engine, hook_view("r.1"), PBX, "agi", clock())
    [pending] = pending_calls(database.engine, PBX)
    intake.record([ami_view("r.1", "answered", 31)], "ami")  # lands between reading and marking processed
    intake.process(pending.call, replan=pending.replan)
    assert [item.call.evidence for item in pending_calls(database.engine, PBX)] == ["full"]
    assert intake.process_pending() == 1
    assert sms_of(database, "r.1")["Missed"][:2] == (Status.CANCELLED, Reason.REPLANNED)
    assert sms_of(database, "r.1")["Thanks"][0] == Status.QUEUED


def test_the_same_source_reporting_again_is_a_duplicate_not_a_second_view(database: Database) -> None:
    clock = Clock()
    intake = intake_of(database, clock)
    call = ami_view("x.1", "answered", 31)
    intake.record([call], "ami")
    intake.record([replace(call, evidence="gap", talk_s=3)], "ami")
    assert (intake.duplicate_reports, intake.views_disagreed) == (1, 0)
    assert call_row(database, "x.1")["other_view"] is None


def test_migration_0009_adds_the_view_columns_and_is_reversible(database_url: str) -> None:
    open_database(database_url).close()
    assert {"other_view", "views_disagree", "replan"} <= set(columns(database_url, "calls"))
    migrate(database_url, "0008", down=True)
    assert not {"other_view", "views_disagree", "replan"} & set(columns(database_url, "calls"))
    open_database(database_url).close()
    assert {"other_view", "views_disagree", "replan"} <= set(columns(database_url, "calls"))
