"""The SMS log of an account: ``/api/v1/accounts/{account}/sms`` (filtered, cursor-paged, newest first)
and ``/sms/{sms_id}`` (one SMS with its call). Read by the account's admins and viewers."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from pbx_sms.core.access import Access, Resource
from pbx_sms.core.bounds import RULE_NAME_MAX_CHARS
from pbx_sms.core.delivery import DeliveryStatus
from pbx_sms.core.sms_status import Status
from pbx_sms.manage.sms_log import CallSummary, call_of, log_page, sms_of_account
from pbx_sms.outbox.model import LogQuery, OutboxRow
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.sql_facts import usable_timezone
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.errors import InvalidValue, NotFound
from pbx_sms.storage.numbers import to_e164
from pbx_sms.storage.replies import replies_of_sms
from pbx_sms.storage.values import can_be_stored
from pbx_sms.web.api import ERROR_RESPONSES, V1
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=f"{V1}/accounts/{{account}}/sms", tags=["sms log"], responses=ERROR_RESPONSES)

ReadLog = Annotated[Scope, Depends(Guard(Resource.SMS_LOG, Access.READ))]
MAX_PAGE = 200
# What the log shows of the delivery (core.delivery.shown_delivery): a final report, or unknown.
ShownDelivery = Literal["delivered", "undelivered", "expired", "rejected", "unknown"]
ReportedStatus = Literal["queued", "sending", "sent", "accepted", "delivered", "undelivered", "expired", "rejected"]


class DeliveryReportOut(BaseModel):
    """The provider's last report: its status on the lifecycle queued < sending < sent < accepted < final,
    when it came, and the provider's code (an error code for a failed delivery)."""

    status: ReportedStatus
    received_at: datetime
    code: str | None


class SmsOut(BaseModel):
    """One SMS of the log. ``reason``: why it was suppressed, failed or cancelled; ``note``: why it goes
    out later than planned (quiet hours); ``last_error``: the last failed attempt's error; ``delivery``:
    delivered, undelivered, expired or rejected as the provider reported, unknown for a sent SMS with
    no final report yet, null for an SMS not sent; ``delivery_report``: the provider's last report."""

    id: int
    status: Status
    to: str
    sender: str
    rule: str
    call_id: str
    other_party: str
    parts: int
    attempts: int
    gateway: str | None
    message_id: str | None
    reason: str | None
    note: str | None
    last_error: str | None
    created_at: datetime
    due_at: datetime
    updated_at: datetime
    delivery: ShownDelivery | None
    delivery_report: DeliveryReportOut | None


class CallOut(BaseModel):
    pbx: str
    call_id: str
    direction: str
    status: str
    talk_s: int
    number: str | None
    other_party: str
    started_at: datetime
    ended_at: datetime
    evidence: str


class ReplyOut(BaseModel):
    """A reply to the SMS; ``opt_out``: its text was an opt-out keyword (the number is opted out)."""

    id: int
    provider: str
    from_number: str
    text: str
    received_at: datetime
    opt_out: bool


class SmsDetailOut(SmsOut):
    """An SMS in full, with its call (``call`` null once the call log was pruned) and its replies."""

    text: str
    encoding: str
    scheduled_at: datetime
    last_attempt_at: datetime | None
    unclear_since: datetime | None
    call_ended_at: datetime
    call: CallOut | None
    replies: list[ReplyOut] = []


class SmsPage(BaseModel):
    """A page of the log; ``next_cursor`` (null on the last page) fetches the next one."""

    items: list[SmsOut]
    next_cursor: str | None


def sms_out(row: OutboxRow) -> SmsOut:
    return SmsOut(**_common(row))


def _common(row: OutboxRow) -> dict[str, object]:
    return {
        "id": row.id,
        "status": row.status,
        "to": row.to,
        "sender": row.sender,
        "rule": row.rule_name,
        "call_id": row.call_id,
        "other_party": row.other_party,
        "parts": row.parts,
        "attempts": row.attempts,
        "gateway": row.gateway,
        "message_id": row.message_id,
        "reason": row.reason,
        "note": row.note,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "due_at": row.due_at,
        "updated_at": row.updated_at,
        "delivery": row.delivery_status,
        "delivery_report": _report_out(row),
    }


def _report_out(row: OutboxRow) -> DeliveryReportOut | None:
    if row.delivery is None:
        return None
    report = row.delivery
    return DeliveryReportOut(status=report.status.value, received_at=report.at, code=report.code)


def _call_out(call: CallSummary | None) -> CallOut | None:
    if call is None:
        return None
    return CallOut(
        pbx=call.pbx,
        call_id=call.call_id,
        direction=call.direction,
        status=call.status,
        talk_s=call.talk_s,
        number=call.number,
        other_party=call.other_party,
        started_at=call.started_at,
        ended_at=call.ended_at,
        evidence=call.evidence,
    )


@router.get("", response_model=SmsPage)
def list_sms(
    account: str,
    scope: ReadLog,
    status: Annotated[list[Status] | None, Query(description="Only SMS with this status (repeatable).")] = None,
    number: Annotated[
        str | None, Query(description="The recipient or the call's other party, any format (account's country).")
    ] = None,
    rule: Annotated[str | None, Query(description="Only SMS of the rule with this name.")] = None,
    delivery: Annotated[
        ShownDelivery | None, Query(description="Only SMS with this delivery status (unknown: sent, no final report).")
    ] = None,
    since: Annotated[
        str | None,
        Query(
            alias="from",
            description="Created at or after (ISO 8601; no offset: the account's time zone).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            alias="to",
            description="Created before (ISO 8601; no offset: the account's time zone).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many SMS on the page.")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> SmsPage:
    """The account's SMS, newest first; filters combine (statuses among themselves: any of them)."""
    ref = scope.require_account()
    with scope.read_session() as session:
        found = get_account(session, ref.name)
        country, zone = found.country, ZoneInfo(usable_timezone(found.timezone))
    query = LogQuery(
        statuses=frozenset(status) if status else None,
        since=_instant(since, zone, "from"),
        until=_instant(until, zone, "to"),
        number=to_e164(number, country, field="number") if number is not None else None,
        account_id=ref.id,
        rule_name=rule,
        delivery=DeliveryStatus(delivery) if delivery is not None else None,
    )
    if rule is not None and not can_be_stored(rule, RULE_NAME_MAX_CHARS):
        return SmsPage(items=[], next_cursor=None)  # no rule has such a name (nor could it be asked about)
    page = log_page(SqlOutbox(scope.context.database.engine), query, limit, cursor)
    return SmsPage(items=[sms_out(row) for row in page.rows], next_cursor=page.next_cursor)


@router.get("/{sms_id}", response_model=SmsDetailOut)
def read_sms(account: str, sms_id: int, scope: ReadLog) -> SmsDetailOut:
    row = sms_of_account(SqlOutbox(scope.context.database.engine), scope.require_account().id, sms_id)
    if row is None:
        raise NotFound(f"no SMS with id {sms_id} in the log of account {scope.require_account().name!r}")
    with scope.read_session() as session:
        call = call_of(session, row)
        replies = [ReplyOut(**asdict(reply)) for reply in replies_of_sms(session, row.id)]
    return SmsDetailOut(
        **_common(row),
        text=row.text,
        encoding=row.encoding,
        scheduled_at=row.scheduled_at,
        last_attempt_at=row.last_attempt_at,
        unclear_since=row.unclear_since,
        call_ended_at=row.call_ended_at,
        call=_call_out(call),
        replies=replies,
    )


def _instant(text: str | None, zone: ZoneInfo, field: str) -> datetime | None:
    """A query's ISO 8601 time as an instant: without an offset it is the account's wall-clock time."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        message = f"{field}: expected an ISO 8601 time like 2026-03-10T08:00 or 2026-03-10T08:00+01:00, got {text!r}"
        raise InvalidValue(message, field=field) from None
    try:
        # In UTC here: a time near year 1 or 9999 with an offset has no UTC time to compare with.
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    except OverflowError:
        message = f"{field}: outside the times that can be compared (0001-01-01 to 9999-12-31 UTC)"
        raise InvalidValue(message, field=field) from None
