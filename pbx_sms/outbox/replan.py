"""Re-planning one call's SMS when a better view of the call replaced the one they were planned from (pure).

The weaker view (usually the hangup hook's, which comes first) may have queued SMS; the better one (the
AMI tracker's full view) plans its own. Per (rule, recipient) — the outbox's key within a call:
- queued and never handed to a gateway (no attempt yet): the better plan decides. Planned again and not
  suppressed → the row stays and takes the new text; not planned (or suppressed) → cancelled, reason
  ``replanned``. A due row the worker has not claimed counts too: the re-plan holds its lock, and the
  wrong SMS would otherwise leave within milliseconds.
- suppressed or cancelled: settled; the key is not queued again.
- planned only by the better view: queued as any new SMS (the limits decide).
If any SMS of the call went out or is going out (sending, sent, failed, or an attempt made), nothing
changes: the better view is only recorded, so the call never gets SMS from both views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.model import NewSms

_SETTLED_UNSENT = frozenset({Status.SUPPRESSED, Status.CANCELLED})


@dataclass(frozen=True, slots=True)
class CallRow:
    """A row of the call being re-planned, as far as the re-plan needs it."""

    id: int
    rule_id: int
    to: str
    status: Status
    attempts: int

    @property
    def untouched(self) -> bool:
        return self.status == Status.QUEUED and self.attempts == 0


@dataclass(frozen=True, slots=True)
class ReplanPlan:
    cancel: tuple[int, ...] = ()
    # (row id, the better plan's SMS for the same rule and recipient): the row takes its text.
    rewrite: tuple[tuple[int, NewSms], ...] = ()
    insert: tuple[NewSms, ...] = ()
    # Rows that went out (or may have): when any, the plan changes nothing.
    gone_out: tuple[int, ...] = ()


def plan_replan(rows: Sequence[CallRow], items: Sequence[NewSms]) -> ReplanPlan:
    """What to do with the call's ``rows`` now that the better view plans ``items``."""
    gone_out = tuple(row.id for row in rows if not row.untouched and row.status not in _SETTLED_UNSENT)
    if gone_out:
        return ReplanPlan(gone_out=gone_out)
    wanted = {(item.rule_id, item.to): item for item in items}
    cancel: list[int] = []
    rewrite: list[tuple[int, NewSms]] = []
    for row in rows:
        if not row.untouched:
            continue
        item = wanted.get((row.rule_id, row.to))
        if item is None or item.reason is not None:
            cancel.append(row.id)
        else:
            rewrite.append((row.id, item))
    taken = {(row.rule_id, row.to) for row in rows}
    insert = tuple(item for key, item in wanted.items() if key not in taken)
    return ReplanPlan(tuple(cancel), tuple(rewrite), insert)
