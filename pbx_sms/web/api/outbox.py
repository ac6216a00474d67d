"""Retry or cancel one SMS of an account: ``/api/v1/accounts/{account}/outbox/{sms_id}/retry|cancel``.

The same change as `pbx-sms outbox retry|cancel` (``Outbox.retry``/``cancel``, whose
``check_retry``/``check_cancel`` decide): a transition the SMS's status does not allow is 409 with the
reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from pbx_sms.core.access import Access, Resource
from pbx_sms.manage.sms_log import sms_of_account
from pbx_sms.outbox.model import OutboxError, OutboxRow
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.errors import NotFound, Refused
from pbx_sms.web.api import ERROR_RESPONSES, V1, error_responses
from pbx_sms.web.api.sms_log import SmsOut, sms_out
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=f"{V1}/accounts/{{account}}/outbox", tags=["outbox"], responses=ERROR_RESPONSES)

WriteOutbox = Annotated[Scope, Depends(Guard(Resource.OUTBOX, Access.WRITE))]


@router.post("/{sms_id}/retry", response_model=SmsOut, responses=error_responses(409))
def retry_sms(account: str, sms_id: int, scope: WriteOutbox) -> SmsOut:
    """Queue a failed, suppressed, cancelled or unclear SMS again, due now (for an unclear one: the
    decision to send it again; check the provider's log first)."""
    return sms_out(_change(scope, sms_id, SqlOutbox.retry))


@router.post("/{sms_id}/cancel", response_model=SmsOut, responses=error_responses(409))
def cancel_sms(account: str, sms_id: int, scope: WriteOutbox) -> SmsOut:
    """Cancel a queued SMS (it stays in the log as cancelled)."""
    return sms_out(_change(scope, sms_id, SqlOutbox.cancel))


def _change(scope: Scope, sms_id: int, change: Callable[[SqlOutbox, int, datetime], OutboxRow]) -> OutboxRow:
    """Apply ``change`` to the account's SMS ``sms_id`` now (another account's is not found)."""
    ref = scope.require_account()
    outbox = SqlOutbox(scope.context.database.engine)
    if sms_of_account(outbox, ref.id, sms_id) is None:
        raise NotFound(f"no SMS with id {sms_id} in the outbox of account {ref.name!r}")
    try:
        return change(outbox, sms_id, scope.context.clock())
    except OutboxError as exc:
        raise Refused(str(exc)) from None
