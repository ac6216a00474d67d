"""From a completed call to queued SMS: record it once, match its account's rules, enqueue.

Synchronous on purpose (database work): the daemon calls it from a thread, the AGI hook and the
CLI call it directly. Recording calls (many in one transaction) and processing them are separate
steps; a crash in between leaves the calls unprocessed in the call log, and processing one again is
harmless because the outbox keeps one row per (rule, pbx, call, recipient).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.clock import utc_now
from pbx_sms.core.matching import PlannedSms, match_call
from pbx_sms.core.reasons import Reason
from pbx_sms.core.views import wait_for_better_view_since
from pbx_sms.db.engine import Database
from pbx_sms.db.errors import is_database_outage
from pbx_sms.intake.calls import PendingCall, mark_processed, pending_calls, reached_person_since, record_views
from pbx_sms.outbox.enqueue import enqueue_call
from pbx_sms.outbox.flow import Outbox
from pbx_sms.outbox.model import EnqueueReport
from pbx_sms.storage.config_cache import ConfigCache

log = logging.getLogger(__name__)

MAX_PROCESSING_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    call: CompletedCall
    account: str
    planned: tuple[PlannedSms, ...]
    report: EnqueueReport


def describe_call(call: CompletedCall) -> str:
    arrow = "←" if call.direction == "in" else "→"
    number = call.number or "internal"
    return (
        f"call {call.call_id}: {call.direction} {number} {arrow} {call.other_party}, {call.status}, "
        f"talk {call.talk_s} s, evidence {call.evidence}"
    )


class CallIntake:
    def __init__(
        self,
        database: Database,
        outbox: Outbox,
        config: ConfigCache,
        *,
        pbx: str,
        local_gateway: bool = False,
        internal_max_digits: int = 5,
        on_queued: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
        hook_wait_s: float = 0.0,
        better_view_possible: Callable[[], bool] = lambda: False,
    ) -> None:
        self._database = database
        self._outbox = outbox
        self._config = config
        self.pbx = pbx
        # SMS of this PBX go out through its own gateway (a GSM dongle): only its worker may send them.
        self._local_gateway = local_gateway
        self._internal_max_digits = internal_max_digits
        self._on_queued = on_queued
        self._clock = clock
        # A call only a hangup hook reported waits this long for the AMI tracker's view, while
        # ``better_view_possible`` (AMI enabled and connected) says one can come.
        self._hook_wait_s = hook_wait_s
        self._better_view_possible = better_view_possible
        self.calls_recorded = 0
        self.duplicate_reports = 0
        # Second views of a call: those that disagreed with the first, those that replaced it as the truth.
        self.views_disagreed = 0
        self.views_replaced = 0
        self.processing_errors = 0
        # Calls whose processing failed, by id: retried by process_pending, given up after a few tries
        # so one bad call (an account hand-edited into an invalid state) cannot hold up the others.
        self._failures: dict[str, int] = {}

    def record(self, completed: Sequence[CompletedCall], source: str) -> list[CompletedCall]:
        """Record calls of this PBX in one transaction, to be processed later (``process_pending``);
        the new ones, without those reported before (by AMI or AGI: recorded as a second view)."""
        result = record_views(self._database.engine, completed, self.pbx, source, self._clock())
        self.calls_recorded += len(result.new)
        # Every report of a call known already (a second view, or the same source again), as before views.
        self.duplicate_reports += len(result.duplicates) + len(result.replaced) + len(result.kept)
        self.views_replaced += len(result.replaced)
        self.views_disagreed += len(result.disagreed)
        for call in result.duplicates:
            log.info("call %s reported again (by %s): already handled", call.call_id, source)
        disagreed = {call.call_id for call in result.disagreed}
        for call in (*result.replaced, *result.kept):
            log.log(
                logging.WARNING if call.call_id in disagreed else logging.INFO,
                "call %s: second view (by %s, evidence %s: %s, talk %d s) %s%s",
                call.call_id,
                source,
                call.evidence,
                call.status,
                call.talk_s,
                "replaces the first" if call in result.replaced else "recorded beside the better first",
                ", and they disagree" if call.call_id in disagreed else "",
                extra={"pbx": self.pbx, "call_id": call.call_id, "evidence": call.evidence},
            )
        return result.new

    def submit(self, call: CompletedCall, source: str) -> IntakeOutcome | None:
        """Record and process a call; None when the call was reported before (by AMI or AGI)."""
        if not self.record([call], source):
            return None
        try:
            return self.process(call)
        except Exception as exc:
            # Recorded but not processed: process_pending tries again (and logs) within a second.
            self._note_failure(call, exc)
            return None

    def process(self, call: CompletedCall, *, replan: bool = False) -> IntakeOutcome:
        snapshot = self._config.snapshot()
        account = snapshot.account_for_number(call.number)
        active = snapshot.rules_for(account.name)
        planned = match_call(call, account.policy(), [item.rule for item in active], self._internal_max_digits)
        if any(sms.cancel_on_reach for sms in planned) and reached_person_since(
            self._database.engine, account.name, self.pbx, call
        ):
            # A later call with this number already reached a person (it was processed first).
            planned = [replace(sms, reason=Reason.REACHED_PERSON) if sms.cancel_on_reach else sms for sms in planned]
        rule_ids = {item.rule.name: item.id for item in active}
        log.info(
            "%s (account %s)",
            describe_call(call),
            account.name,
            extra={
                "pbx": self.pbx,
                "call_id": call.call_id,
                "account": account.name,
                "direction": call.direction,
                "status": call.status,
                "talk_s": call.talk_s,
                "evidence": call.evidence,
            },
        )
        report = enqueue_call(
            self._outbox,
            call,
            self.pbx,
            account.id,
            planned,
            rule_ids,
            self._clock(),
            local_to_pbx=self._local_gateway,
            replan=replan,
        )
        # Suppressed SMS are logged by enqueue_call, with the outbox's own reasons (opt-out, caps) too.
        for sms in planned:
            if sms.reason is None:
                log.info("rule %r matched: SMS to %s due %s", sms.rule, sms.to, sms.due_at.isoformat())
        if not mark_processed(
            self._database.engine, self.pbx, call.call_id, account.name, self._clock(), evidence=call.evidence
        ):
            log.info("call %s: a better view came while it was processed; processing it again", call.call_id)
        if report.queued and self._on_queued is not None:
            self._on_queued()
        return IntakeOutcome(call, account.name, tuple(planned), report)

    def process_pending(self, limit: int = 100) -> int:
        """Match calls of this PBX that were recorded but not processed (the daemon's own, AGI reports,
        an interrupted run); how many were processed (the others failed: tried again next time). A call
        only a hangup hook reported waits up to ``hook_wait_s`` for the AMI tracker's view first."""
        hold_since = wait_for_better_view_since(self._clock(), self._hook_wait_s, self._better_view_possible())
        pending: list[PendingCall] = [
            item
            for item in pending_calls(self._database.engine, self.pbx, limit + len(self._failures), hold_since)
            if self._failures.get(item.call.call_id, 0) < MAX_PROCESSING_ATTEMPTS
        ][:limit]
        processed = 0
        for item in pending:
            try:
                self.process(item.call, replan=item.replan)
            except Exception as exc:
                self._note_failure(item.call, exc)
            else:
                self._failures.pop(item.call.call_id, None)
                processed += 1
        return processed

    def _note_failure(self, call: CompletedCall, error: Exception) -> None:
        self.processing_errors += 1
        if is_database_outage(error):
            # The database is away, not the call at fault: keep trying for as long as it takes.
            log.warning("call %s not processed yet (database: %s); trying again", call.call_id, error)
            return
        failures = self._failures[call.call_id] = self._failures.get(call.call_id, 0) + 1
        if failures >= MAX_PROCESSING_ATTEMPTS:
            log.exception(
                "call %s could not be processed %d times; given up until restart: %s",
                call.call_id,
                failures,
                json.dumps(call.to_json()),
            )
        else:
            log.exception("call %s could not be processed (try %d); trying again", call.call_id, failures)
