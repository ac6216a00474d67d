"""Claim decisions (pure): which due rows a worker gets, which wait, which are suppressed or held.

A row is claimable when it is queued and due, ``unclear`` (an attempt may have gone out) with no
reason and due, or ``sending`` with its lease run out. Fresh claims (queued rows) meet the limits of
``pbx_sms.outbox.decisions``; the others were let through before and already count as sent.

A lease that ran out means the attempt was cut short (a crash, a kill, a worker that lost its
database): it may have gone out. A claimer whose gateway can send such an SMS again without risk
(``resend_interrupted``: it deduplicates by key, looks up what it sent, or its setting says resend)
takes it again, telling the gateway since when it is unclear; any other claimer holds it as
``unclear`` with a reason, for an operator's decision (``pbx-sms outbox retry``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.decisions import MISSING_ACCOUNT, AccountLimits, Candidate, Facts, Gate, Hold, Questions, quiet_hold


@dataclass(frozen=True, slots=True)
class DueRow:
    """A claimable row as the store found it: queued or unclear and due, or ``sending`` with its lease
    run out."""

    id: int
    status: Status
    due_at: datetime
    account_id: int
    rule_id: int
    to: str
    to_other_party: bool
    min_interval_s: int
    other_party: str = ""
    last_attempt_at: datetime | None = None
    unclear_since: datetime | None = None

    @property
    def interrupted(self) -> bool:
        """Its lease ran out while it was being sent."""
        return self.status == Status.SENDING

    def unclear_from(self) -> datetime | None:
        """Since when its outcome is unclear: an earlier unclear attempt, or the attempt cut short."""
        if self.unclear_since is not None:
            return self.unclear_since
        return self.last_attempt_at if self.interrupted else None


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    """Row changes of one claim batch. ``held``: (row, hold, status) back to ``status`` (queued, or
    unclear for a row that may have gone out), due at the hold's end, lease dropped, no attempt used;
    ``suppressed``: with the reason; ``interrupted``: (row, reason) unclear with that reason, lease
    dropped, for an operator; ``leased``: to the claiming worker, one attempt more. ``unclear_since``:
    rows of the plan whose ``unclear_since`` is to be set to this time (those whose lease ran out)."""

    leased: tuple[DueRow, ...] = ()
    held: tuple[tuple[DueRow, Hold, Status], ...] = ()
    suppressed: tuple[tuple[DueRow, Reason], ...] = ()
    interrupted: tuple[tuple[DueRow, str], ...] = ()
    unclear_since: Mapping[int, datetime] = field(default_factory=dict)


def held_for_operator(row_id: int) -> str:
    """The reason an attempt cut short by a crash waits as unclear (shown in the log and the CLI)."""
    return (
        "attempt cut short (its lease ran out while sending: a crash or a kill); it may have gone out, and "
        f"this gateway cannot tell, so it is not sent again on its own: `pbx-sms outbox retry {row_id}` sends it"
    )


class ClaimPlanner:
    """Hand out up to ``limit`` due rows at ``now``, from batches of rows in due order (``due_at``, id).

    Only leased rows count toward the limit: rows held, suppressed or interrupted on the way are decided
    too, and the store brings the next batch while ``remaining`` is above 0 and rows are left."""

    def __init__(self, limit: int, now: datetime, *, resend_interrupted: bool = True) -> None:
        self.remaining = limit
        self._now = now
        self._resend_interrupted = resend_interrupted
        self._gate = Gate(reserve=True)

    def questions(self, batch: Sequence[DueRow], limits: Mapping[int, AccountLimits]) -> Questions:
        fresh = (
            self._candidate(row)
            for row in batch
            if row.status == Status.QUEUED
            and quiet_hold(limits.get(row.account_id, MISSING_ACCOUNT), self._now) is None
        )
        return self._gate.questions(fresh, limits)

    def plan(self, batch: Sequence[DueRow], facts: Facts) -> ClaimPlan:
        leased: list[DueRow] = []
        held: list[tuple[DueRow, Hold, Status]] = []
        suppressed: list[tuple[DueRow, Reason]] = []
        interrupted: list[tuple[DueRow, str]] = []
        unclear_since: dict[int, datetime] = {}
        for row in batch:
            if self.remaining <= 0:
                break
            since = row.unclear_from()
            if row.interrupted and since is not None:
                unclear_since[row.id] = since
            if row.interrupted and not self._resend_interrupted:
                interrupted.append((row, held_for_operator(row.id)))
                continue
            # Due, but inside quiet hours now (a retry, a restart, an expired lease): wait for their end.
            hold = quiet_hold(facts.limits_of(row.account_id), self._now)
            if hold is not None:
                held.append((row, hold, Status.UNCLEAR if since is not None else Status.QUEUED))
                continue
            # Rows unclear or cut short were let through before (they count as sent): only fresh
            # claims meet the limits.
            reason = self._gate.decide(self._candidate(row), facts) if row.status == Status.QUEUED else None
            if reason is not None:
                suppressed.append((row, reason))
                continue
            leased.append(row)
            self.remaining -= 1
        return ClaimPlan(tuple(leased), tuple(held), tuple(suppressed), tuple(interrupted), unclear_since)

    def _candidate(self, row: DueRow) -> Candidate:
        return Candidate(
            row.account_id, row.rule_id, row.to, row.to_other_party, row.min_interval_s, self._now, row.other_party
        )
