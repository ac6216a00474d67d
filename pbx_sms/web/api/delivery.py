"""Do the account's SMS reach people: ``/api/v1/accounts/{account}/delivery`` (the last days' delivery
figures per rule and in total). Read by the account's admins and viewers, as its SMS log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from pbx_sms.core.access import Access, Resource
from pbx_sms.manage.delivery import DEFAULT_DAYS, MAX_DAYS, DeliveryReport, delivery_report
from pbx_sms.web.api import ERROR_RESPONSES, V1
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=f"{V1}/accounts/{{account}}", tags=["sms log"], responses=ERROR_RESPONSES)

ReadLog = Annotated[Scope, Depends(Guard(Resource.SMS_LOG, Access.READ))]

_RATE = "delivered / (delivered + undelivered); null while no SMS has a final report"


class DeliveryCountsOut(BaseModel):
    """SMS sent in the window. ``undelivered``: a final report of not delivered (undelivered, expired or
    rejected); ``pending``: no final report yet (none at all, or only intermediate ones)."""

    sent: int
    delivered: int
    undelivered: int
    pending: int
    rate: float | None = Field(description=_RATE)


class RuleDeliveryOut(DeliveryCountsOut):
    """One rule's SMS; ``rule_name`` as its latest SMS stored it (a rule removed since is still here)."""

    rule_id: int
    rule_name: str


class DeliveryOut(BaseModel):
    """The account's SMS sent (by when they went out) since ``since``: ``days`` × 24 hours ago."""

    account: str
    since: datetime
    days: int
    total: DeliveryCountsOut
    rules: list[RuleDeliveryOut]


def delivery_out(report: DeliveryReport) -> DeliveryOut:
    # Read from the report's attributes (the figures' ``rate`` property included), field by field.
    return DeliveryOut.model_validate(report, from_attributes=True)


@router.get("/delivery", response_model=DeliveryOut)
def read_delivery(
    account: str,
    scope: ReadLog,
    days: Annotated[
        int, Query(ge=1, le=MAX_DAYS, description=f"The last this many days (1 to {MAX_DAYS}).")
    ] = DEFAULT_DAYS,
) -> DeliveryOut:
    """Do the account's SMS reach people: per rule, SMS sent in the last ``days`` days and how many the
    providers reported delivered, not delivered, or not yet; with the account's total."""
    ref = scope.require_account()
    with scope.read_session() as session:
        report = delivery_report(session, ref.id, ref.name, scope.context.clock(), days)
    return delivery_out(report)
