"""A small call log whose backtest answer is worked out by hand (the ``EXPECTED`` comments say why).

Account ``acme`` (Europe/Warsaw): daily cap 3, quiet hours 22:00-07:00, +48600100002 opted out by acme,
+48600100003 opted out globally. The rule texts missed incoming calls, 5 minutes after the call, at
most once an hour per number. Day 1 and day 2 are the two local days before ``now``'s.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from pbx_sms.core.call import CallStatus, CompletedCall, Direction
from pbx_sms.db.engine import Database
from pbx_sms.intake.calls import mark_processed, record_views
from pbx_sms.storage.accounts import AccountChanges, update_account
from pbx_sms.storage.optouts import add_optout

WARSAW: Final = ZoneInfo("Europe/Warsaw")
PBX: Final = "pbx1"
COMPANY: Final = "+48221234567"
A, B, C, D, E, F, G, H, K = (
    "+48600100001",  # A: texted at 10:00 and again after an hour
    "+48600100002",  # B: opted out of acme
    "+48600100003",  # C: opted out everywhere
    "+48221111111",  # D: a landline
    "+48600100005",  # E: answered before the SMS went
    "+48600100006",  # F: called in the quiet hours
    "+48600100007",
    "+48600100008",
    "+48600100009",  # K: the 4th SMS of day 2, over the cap of 3
)
DAYS: Final = 7

RULE_DOCUMENT: Final[dict[str, Any]] = {
    "name": "missed",
    "when": {"direction": "in", "numbers": "all", "status": ["no_answer"]},
    "then": {
        "sender": "ACME",
        "to": ["other_party"],
        "text": "Sorry we missed your call at {time}",
        "delay_s": 300,
        "min_interval_s": 3600,
    },
}

# (day, local end time, direction, other party, status, account)
_CALLS: Final[list[tuple[int, str, Direction, str, CallStatus, str]]] = [
    (1, "10:00", "in", A, "no_answer", "acme"),  # sent at 10:05
    (1, "10:10", "in", A, "no_answer", "acme"),  # 10:15: within the hour of 10:05 → min_interval
    (1, "10:20", "in", A, "no_answer", "acme"),  # 10:25 → min_interval
    (1, "10:30", "in", B, "no_answer", "acme"),  # opted_out
    (1, "10:40", "in", C, "no_answer", "acme"),  # opted_out
    (1, "10:50", "in", "anonymous", "no_answer", "acme"),  # anonymous (the matcher)
    (1, "11:05", "in", A, "no_answer", "acme"),  # 11:10, 65 minutes after 10:05 → sent
    (1, "11:10", "in", D, "no_answer", "acme"),  # landline (the matcher)
    (1, "11:17", "in", E, "no_answer", "acme"),  # due 11:22, but E answered at 11:20 → reached_person
    (1, "11:20", "in", E, "answered", "acme"),  # no SMS: the rule is for missed calls
    (1, "23:30", "in", F, "no_answer", "acme"),  # held by the quiet hours until 07:00 of day 2 → sent, delayed
    (2, "12:00", "in", G, "no_answer", "acme"),  # day 2: F's, G's → sent
    (2, "12:10", "in", H, "no_answer", "acme"),  # the 3rd of day 2 → sent
    (2, "12:20", "in", K, "no_answer", "acme"),  # the 4th → daily_cap_reached
    (2, "12:30", "out", G, "no_answer", "acme"),  # outgoing: not the rule's
    (2, "12:40", "in", G, "no_answer", "globex"),  # another account's call
    (-10, "12:00", "in", G, "no_answer", "acme"),  # older than DAYS
]

EXPECTED: Final = {
    "calls": 15,
    "matched_calls": 13,
    "sent": 5,
    "distinct_numbers": 4,
    "delayed": 1,
    "suppressed": {
        "anonymous": 1,
        "daily_cap_reached": 1,
        "landline": 1,
        "min_interval": 2,
        "opted_out": 2,
        "reached_person": 1,
    },
}


def day_one(now: datetime) -> date:
    return now.astimezone(WARSAW).date() - timedelta(days=2)


def seed_calls(database: Database, now: datetime) -> None:
    """The calls above, processed (``calls.account`` set), and the account's limits and opt-outs."""
    first = day_one(now)
    with database.write_session() as session:
        update_account(session, "acme", AccountChanges(daily_cap=3, quiet_hours="22:00-07:00"))
        add_optout(session, B, "acme", "PL")
        add_optout(session, C, None, "PL")
    for index, (day, clock, direction, other, status, account) in enumerate(_CALLS):
        ended = datetime.combine(first + timedelta(days=day - 1), time.fromisoformat(clock), tzinfo=WARSAW)
        talk_s = 60 if status == "answered" else 0
        call = CompletedCall(
            call_id=f"call-{index}",
            direction=direction,
            number=COMPANY,
            other_party=other,
            status=status,
            talk_s=talk_s,
            started_at=ended.astimezone(UTC) - timedelta(seconds=talk_s + 20),
            ended_at=ended.astimezone(UTC),
        )
        record_views(database.engine, [call], PBX, "ami", now)
        mark_processed(database.engine, PBX, call.call_id, account, now)
