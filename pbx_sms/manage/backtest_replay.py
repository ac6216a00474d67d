"""A rule replayed over past calls, in order (pure): which SMS it would have sent, and which the outbox
would have suppressed or cancelled, and why.

Each call is matched as intake matches it (``match_call``); an SMS the matcher suppressed counts at
once. The others wait, as in the outbox, until they would go out (end of call + delay, moved to the
end of the account's quiet hours: *delayed*, never suppressed); an answered call with the same other
party before then cancels a missed-call SMS (``reached_person``); when it goes out, the outbox's own
``Gate`` decides (SMS service, opt-out, daily cap, minimum interval) with what this rule sent before.

What the replay cannot know: SMS other rules sent (the daily cap counts this rule's only), what was
sent before the first call replayed, and when a number opted out (today's opt-outs apply throughout).
Memory: the SMS still waiting (at most a delay's worth of calls), the recipients and interval keys seen.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.matching import AccountPolicy, PlannedSms, match_call
from pbx_sms.core.reasons import Reason
from pbx_sms.core.rules import Rule
from pbx_sms.core.schedule import zone
from pbx_sms.outbox.decisions import AccountLimits, Candidate, DayWindow, Facts, Gate, quiet_hold

MAX_EXAMPLES: Final = 20
# The replay has one account and one rule: ids only the Gate's keys need.
_ACCOUNT_ID: Final = 0
_RULE_ID: Final = 0


@dataclass(slots=True)
class BacktestExample:
    """One SMS of the replay: ``reason`` None = sent at ``sent_at`` (``delayed``: by quiet hours)."""

    call_ended_at: datetime
    other_party: str
    to: str
    text: str
    reason: str | None = None
    sent_at: datetime | None = None
    delayed: bool = False

    def as_json(self, timezone: str) -> dict[str, Any]:
        tz = zone(timezone)
        return {
            "call_ended_at": self.call_ended_at.astimezone(tz).isoformat(),
            "other_party": self.other_party,
            "to": self.to,
            "text": self.text if self.reason is None else None,
            "reason": self.reason,
            "sent_at": None if self.sent_at is None else self.sent_at.astimezone(tz).isoformat(),
            "delayed": self.delayed,
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    rule: str
    account: str
    timezone: str
    since: datetime
    until: datetime
    calls: int  # the account's calls replayed
    matched_calls: int  # calls for which the rule planned at least one SMS
    sent: int
    distinct_numbers: int  # recipients of the SMS sent
    delayed: int  # SMS sent after the quiet hours held them
    suppressed: dict[str, int]  # by reason, cancellations included
    examples: tuple[BacktestExample, ...]

    def as_json(self) -> dict[str, Any]:
        tz = zone(self.timezone)
        return {
            "rule": self.rule,
            "account": self.account,
            "since": self.since.astimezone(tz).isoformat(),
            "until": self.until.astimezone(tz).isoformat(),
            "calls": self.calls,
            "matched_calls": self.matched_calls,
            "sent": self.sent,
            "distinct_numbers": self.distinct_numbers,
            "delayed": self.delayed,
            "suppressed": dict(sorted(self.suppressed.items())),
            "examples": [example.as_json(self.timezone) for example in self.examples],
        }


@dataclass(slots=True)
class _Waiting:
    """An SMS the outbox holds until ``at``."""

    sms: PlannedSms
    call: CompletedCall
    at: datetime
    delayed: bool
    example: BacktestExample | None
    cancelled: bool = False


@dataclass(slots=True)
class _Tally:
    calls: int = 0
    matched_calls: int = 0
    sent: int = 0
    delayed: int = 0
    recipients: set[str] = field(default_factory=set)
    suppressed: Counter[str] = field(default_factory=Counter)
    examples: list[BacktestExample] = field(default_factory=list)


class BacktestReplay:
    """Feed the account's calls oldest first (``feed``), then ``finish``."""

    def __init__(
        self,
        rule: Rule,
        account: AccountPolicy,
        limits: AccountLimits,
        opted_out: frozenset[str],
        *,
        internal_max_digits: int,
    ) -> None:
        # A disabled rule is backtested as if it were enabled: that is what one wants to know before enabling it.
        self._rule = rule if rule.enabled else rule.model_copy(update={"enabled": True})
        self._account = account
        self._limits = limits
        self._internal_max_digits = internal_max_digits
        # Every day a cap is asked about starts at 0: the replay knows only what this rule sent.
        sent_before: defaultdict[DayWindow, int] = defaultdict(int)
        self._facts = Facts(
            limits={_ACCOUNT_ID: limits},
            opted_out=frozenset((_ACCOUNT_ID, number) for number in opted_out),
            sent=sent_before,
        )
        self._gate = Gate(reserve=True)
        self._waiting: list[tuple[datetime, int, _Waiting]] = []
        self._sequence = 0
        # Missed-call SMS still waiting, by the call's other party: an answered call cancels them.
        self._reachable: dict[str, list[_Waiting]] = defaultdict(list)
        self._tally = _Tally()

    def feed(self, call: CompletedCall) -> None:
        tally = self._tally
        tally.calls += 1
        self._send_due(call.ended_at)
        if call.status == "answered" and call.direction != "internal":
            self._reached(call)
        planned = match_call(call, self._account, [self._rule], self._internal_max_digits)
        if planned:
            tally.matched_calls += 1
        for sms in planned:
            example = None
            if len(tally.examples) < MAX_EXAMPLES:
                example = BacktestExample(call.ended_at, call.other_party, sms.to, sms.text)
                tally.examples.append(example)
            if sms.reason is not None:
                self._suppress(sms.reason, example)
                continue
            hold = quiet_hold(self._limits, sms.due_at)
            waiting = _Waiting(sms, call, hold.until if hold else sms.due_at, hold is not None, example)
            heapq.heappush(self._waiting, (waiting.at, self._sequence, waiting))
            self._sequence += 1
            if sms.cancel_on_reach:
                self._reachable[call.other_party].append(waiting)

    def finish(self, *, rule: str, account: str, since: datetime, until: datetime) -> BacktestResult:
        """The result once every call was fed: the SMS still waiting go out as they would."""
        self._send_due(None)
        tally = self._tally
        return BacktestResult(
            rule=rule,
            account=account,
            timezone=self._account.timezone,
            since=since,
            until=until,
            calls=tally.calls,
            matched_calls=tally.matched_calls,
            sent=tally.sent,
            distinct_numbers=len(tally.recipients),
            delayed=tally.delayed,
            suppressed=dict(tally.suppressed),
            examples=tuple(tally.examples),
        )

    def _send_due(self, until: datetime | None) -> None:
        """Decide every waiting SMS that goes out by ``until`` (None: all of them), in the order they go."""
        while self._waiting and (until is None or self._waiting[0][0] <= until):
            _, _, waiting = heapq.heappop(self._waiting)
            if waiting.sms.cancel_on_reach:
                self._reachable[waiting.call.other_party].remove(waiting)
                if not self._reachable[waiting.call.other_party]:
                    del self._reachable[waiting.call.other_party]
            if waiting.cancelled:
                continue
            self._decide(waiting)

    def _decide(self, waiting: _Waiting) -> None:
        sms = waiting.sms
        candidate = Candidate(
            _ACCOUNT_ID, _RULE_ID, sms.to, sms.to_other_party, sms.min_interval_s, waiting.at, waiting.call.other_party
        )
        reason = self._gate.decide(candidate, self._facts)
        if reason is not None:
            self._suppress(reason, waiting.example)
            return
        tally = self._tally
        tally.sent += 1
        tally.recipients.add(sms.to)
        if waiting.delayed:
            tally.delayed += 1
        if waiting.example is not None:
            waiting.example.sent_at = waiting.at
            waiting.example.delayed = waiting.delayed

    def _reached(self, call: CompletedCall) -> None:
        """As the outbox's cancel-on-reach: the answered call cancels earlier calls' missed-call SMS."""
        for waiting in self._reachable.get(call.other_party, ()):
            if (
                not waiting.cancelled
                and waiting.call.call_id != call.call_id
                and waiting.call.ended_at <= call.ended_at
            ):
                waiting.cancelled = True
                self._suppress(Reason.REACHED_PERSON, waiting.example)

    def _suppress(self, reason: Reason, example: BacktestExample | None) -> None:
        self._tally.suppressed[str(reason)] += 1
        if example is not None:
            example.reason = str(reason)
