"""From a completed call and the matcher's plan to outbox rows (and cancel-on-reach)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from pbx_sms.core.call import CompletedCall
from pbx_sms.core.matching import PlannedSms
from pbx_sms.outbox.flow import Outbox
from pbx_sms.outbox.model import EnqueueReport, NewSms

log = logging.getLogger(__name__)

# Raw caller IDs of suppressed SMS ("anonymous", a garbled number) are kept for the log, within reason.
_MAX_NUMBER_CHARS = 64


def new_sms_for_call(
    call: CompletedCall,
    pbx: str,
    account_id: int,
    planned: Sequence[PlannedSms],
    rule_ids: Mapping[str, int],
    *,
    local_to_pbx: bool = False,
) -> list[NewSms]:
    items = []
    for sms in planned:
        if sms.rule not in rule_ids:
            raise KeyError(f"rule {sms.rule!r} of account {account_id} has no id in rule_ids")
        items.append(
            NewSms(
                account_id=account_id,
                rule_id=rule_ids[sms.rule],
                rule_name=sms.rule,
                pbx=pbx,
                local_to_pbx=local_to_pbx,
                call_id=call.call_id,
                other_party=call.other_party[:_MAX_NUMBER_CHARS],
                call_ended_at=call.ended_at,
                to=sms.to[:_MAX_NUMBER_CHARS],
                sender=sms.sender,
                text=sms.text,
                encoding=sms.encoding,
                parts=sms.parts,
                due_at=sms.due_at,
                to_other_party=sms.to_other_party,
                min_interval_s=sms.min_interval_s,
                cancel_on_reach=sms.cancel_on_reach,
                reason=sms.reason,
            )
        )
    return items


def enqueue_call(
    store: Outbox,
    call: CompletedCall,
    pbx: str,
    account_id: int,
    planned: Sequence[PlannedSms],
    rule_ids: Mapping[str, int],
    now: datetime,
    *,
    local_to_pbx: bool = False,
    replan: bool = False,
) -> EnqueueReport:
    """Queue the planned SMS of one call of ``pbx``. Call it for every completed call, also when nothing matched:
    an answered call cancels the pending missed-call SMS of the same other party. ``replan``: a better view
    of the call replaced the one its SMS may have been planned from (``Outbox.replan_call``)."""
    cancelled = 0
    if call.status == "answered" and call.direction != "internal":
        cancelled = store.cancel_reached(account_id, call.other_party, call.call_id, call.ended_at, pbx=pbx)
        if cancelled:
            log.info("call %s reached %s: %d pending SMS cancelled", call.call_id, call.other_party, cancelled)
    items = new_sms_for_call(call, pbx, account_id, planned, rule_ids, local_to_pbx=local_to_pbx)
    report = store.replan_call(pbx, call.call_id, items, now) if replan else store.enqueue(items, now)
    if report.gone_out:
        log.info(
            "call %s: a better view (evidence %s) came after %d SMS of the earlier one went out: only recorded",
            call.call_id,
            call.evidence,
            report.gone_out,
        )
    if report.cancelled_by_replan or report.rewritten:
        log.info(
            "call %s re-planned from its better view (evidence %s): %d SMS cancelled, %d rewritten",
            call.call_id,
            call.evidence,
            report.cancelled_by_replan,
            report.rewritten,
        )
    if report.queued:
        ids = ", ".join(str(row_id) for row_id in report.queued)
        log.info("call %s: %d SMS queued (SMS %s)", call.call_id, len(report.queued), ids)
    for row_id, reason in report.suppressed:
        log.info("call %s: SMS %d suppressed (%s)", call.call_id, row_id, reason)
    for row_id, due_at in report.held:
        log.info("call %s: SMS %d held by the account's quiet hours until %s", call.call_id, row_id, due_at.isoformat())
    if report.duplicates:
        log.info("call %s: %d SMS already queued before (same rule and recipient)", call.call_id, report.duplicates)
    return replace(report, cancelled_by_reach=cancelled)
