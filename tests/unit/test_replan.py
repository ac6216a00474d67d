"""Re-planning one call's SMS from a better view (pure): what is cancelled, rewritten, added, or left."""

from __future__ import annotations

from outbox_world import T0, sms

from pbx_sms.core.reasons import Reason
from pbx_sms.core.sms_status import Status
from pbx_sms.outbox.replan import CallRow, ReplanPlan, plan_replan

CALLER = "+48601000001"
MANAGER = "+48600100100"


def row(row_id: int, rule_id: int, to: str = CALLER, status: Status = Status.QUEUED, attempts: int = 0) -> CallRow:
    return CallRow(row_id, rule_id, to, status, attempts)


def test_untouched_rows_the_better_view_does_not_plan_are_cancelled_the_others_rewritten_new_ones_added() -> None:
    thanks = sms(1, rule_id=2, to=CALLER, call_id="c")
    to_manager = sms(1, rule_id=3, to=MANAGER, call_id="c")
    plan = plan_replan([row(10, 1), row(11, 2)], [thanks, to_manager])
    assert plan == ReplanPlan(cancel=(10,), rewrite=((11, thanks),), insert=(to_manager,))


def test_a_planned_sms_the_better_view_suppresses_cancels_the_queued_one() -> None:
    suppressed = sms(1, rule_id=2, to=CALLER, call_id="c", reason=Reason.TOO_MANY_PARTS)
    assert plan_replan([row(11, 2)], [suppressed]) == ReplanPlan(cancel=(11,))


def test_settled_rows_are_not_queued_again() -> None:
    again = sms(1, rule_id=2, to=CALLER, call_id="c")
    plan = plan_replan([row(11, 2, status=Status.SUPPRESSED), row(12, 1, status=Status.CANCELLED)], [again])
    assert plan == ReplanPlan()


def test_once_any_sms_of_the_call_went_out_or_was_tried_nothing_changes() -> None:
    thanks = sms(1, rule_id=2, to=CALLER, call_id="c", due_at=T0)
    for gone in (Status.SENDING, Status.SENT, Status.FAILED):
        assert plan_replan([row(10, 1, status=gone), row(11, 1, MANAGER)], [thanks]) == ReplanPlan(gone_out=(10,))
    retried = row(10, 1, attempts=1)  # queued again after a transient error: it may have gone out
    assert plan_replan([retried], [thanks]) == ReplanPlan(gone_out=(10,))
