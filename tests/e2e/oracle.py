"""The SMS a recording must produce: expected.jsonl (the fixture's classification of every call) → the pure
matcher → outbox rules (minimum interval, cancel-on-reach), computed apart from the daemon's own output."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from paths import FIXTURES

from e2e.recording import CallSpan
from pbx_sms.core.call import CompletedCall
from pbx_sms.core.matching import AccountPolicy, match_call
from pbx_sms.core.rulefile import parse_rule_text

ACCOUNT = AccountPolicy(name="default", timezone="Europe/Warsaw", country="PL")
# expected.jsonl allows ±1 s on talk_s: a text showing {talk_s} may say one second more or less.
TALK_TOLERANCE_S = 1

SmsKey = tuple[str, str, str]  # (call id, rule name, recipient)


def expected_calls(recording: str) -> dict[str, dict[str, object]]:
    rows = (json.loads(line) for line in (FIXTURES / "expected.jsonl").read_text().splitlines() if line.strip())
    return {str(row["call_id"]): row for row in rows if row["recording"] == recording}


def live_call(row: dict[str, object], span: CallSpan) -> CompletedCall:
    """The call as the daemon should report it, ``span`` taken from the stream it was sent (moved in time).

    Its end is the last Hangup's Timestamp floored to whole seconds, like Asterisk's CDR times.
    """
    recorded_end = datetime.fromisoformat(str(row["ended_at"]))
    recorded_start = datetime.fromisoformat(str(row["started_at"]))
    ended_at = datetime.fromtimestamp(math.floor(span.last_hangup_s), UTC)
    return CompletedCall(
        call_id=span.call_id,
        direction=row["direction"],  # type: ignore[arg-type]
        number=row["number"],  # type: ignore[arg-type]
        other_party=str(row["other_party"]),
        status=row["status"],  # type: ignore[arg-type]
        talk_s=int(row["talk_s"]),  # type: ignore[call-overload]
        started_at=ended_at - (recorded_end - recorded_start),
        ended_at=ended_at,
    )


@dataclass(frozen=True, slots=True)
class ExpectedSms:
    call_id: str
    rule: str
    to: str
    sender: str
    texts: frozenset[str]  # the exact text, or with talk_s one second off (see TALK_TOLERANCE_S)
    due_at: datetime

    @property
    def key(self) -> SmsKey:
        return (self.call_id, self.rule, self.to)


@dataclass(frozen=True, slots=True)
class Plan:
    sent: dict[SmsKey, ExpectedSms]
    suppressed: dict[SmsKey, str]  # reason
    cancelled: dict[SmsKey, str]  # reason


def live_calls(rows: Mapping[str, dict[str, object]], spans: Mapping[str, CallSpan]) -> list[CompletedCall]:
    return [live_call(row, spans[call_id]) for call_id, row in rows.items()]


def plan(calls: Iterable[CompletedCall], rules_yaml: str, spans: Mapping[str, CallSpan]) -> Plan:
    """What the daemon must do with ``calls``; ``spans`` give their exact ends (their order).

    Assumes every call is recorded before any SMS of a later call is due, and that a minimum interval
    spans the whole replay (true for the scenarios of tests/e2e/test_e2e.py): then the call that ended first
    of a (rule, other party) pair gets the SMS, the later ones are suppressed ("min_interval"), and a
    pending missed-call SMS is cancelled ("reached_person") by a later answered call with the same
    other party. Calls ending within the same second have the same due time: the daemon takes them in
    the order it completed them, which is the order of their last Hangup, so that order is used here.
    """
    rules = parse_rule_text(rules_yaml).rules
    ordered = sorted(calls, key=lambda call: (spans[call.call_id].last_hangup_s, call.call_id))
    sent: dict[SmsKey, ExpectedSms] = {}
    suppressed: dict[SmsKey, str] = {}
    cancelled: dict[SmsKey, str] = {}
    last_sent: dict[tuple[str, str], datetime] = {}
    for call in ordered:
        variants = _talk_variants(call)
        for sms in match_call(call, ACCOUNT, rules):
            key = (call.call_id, sms.rule, sms.to)
            if sms.reason is not None:
                suppressed[key] = sms.reason
                continue
            if sms.cancel_on_reach and any(
                other.status == "answered"
                and other.direction != "internal"
                and other.other_party == call.other_party
                and other.call_id != call.call_id
                and call.ended_at <= other.ended_at < sms.due_at
                for other in ordered
            ):
                cancelled[key] = "reached_person"
                continue
            if sms.min_interval_s:
                previous = last_sent.get((sms.rule, sms.to))
                if previous is not None and sms.due_at - previous < timedelta(seconds=sms.min_interval_s):
                    suppressed[key] = "min_interval"
                    continue
                last_sent[(sms.rule, sms.to)] = sms.due_at
            texts = frozenset(
                variant_sms.text
                for variant in variants
                for variant_sms in match_call(variant, ACCOUNT, rules)
                if (variant_sms.rule, variant_sms.to) == (sms.rule, sms.to)
            )
            sent[key] = ExpectedSms(call.call_id, sms.rule, sms.to, sms.sender, texts, sms.due_at)
    return Plan(sent, suppressed, cancelled)


def _talk_variants(call: CompletedCall) -> Sequence[CompletedCall]:
    if call.status != "answered":
        return [call]
    low = max(0, call.talk_s - TALK_TOLERANCE_S)
    return [replace(call, talk_s=talk_s) for talk_s in range(low, call.talk_s + TALK_TOLERANCE_S + 1)]
