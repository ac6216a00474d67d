"""The SMS log page: filters as a GET form, keyset pages ("older"), one SMS in detail, and retry/cancel.

The rows, pages and changes are the API's (manage.sms_log, the outbox store's retry/cancel and their
decisions): this module only reads the form and shows the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from pbx_sms.core.access import Access, Action, Decision, Resource, may
from pbx_sms.core.bounds import RULE_NAME_MAX_CHARS
from pbx_sms.core.delivery import SHOWN_DELIVERY_STATUSES, shown_delivery_named
from pbx_sms.core.rule_fields import sender_can_receive
from pbx_sms.core.sms_status import Status
from pbx_sms.manage.sms_log import call_of, log_page, sms_of_account
from pbx_sms.outbox.decisions import check_cancel, check_retry
from pbx_sms.outbox.model import LogQuery, OutboxError, OutboxRow
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.sql_facts import usable_timezone
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.errors import InvalidValue, NotFound
from pbx_sms.storage.numbers import to_e164
from pbx_sms.storage.replies import replies_of_sms
from pbx_sms.storage.rule_store import stored_rules
from pbx_sms.storage.values import can_be_stored
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.messages import translated_problem
from pbx_sms.web.pages.render import render, translator, url_part
from pbx_sms.web.pages.rules import account_frame
from pbx_sms.web.pages.sms_labels import (
    call_status_labels,
    delivery_labels,
    direction_labels,
    reason_labels,
    sms_status_labels,
)

router = APIRouter(include_in_schema=False)

SMS_PAGE = "/accounts/{account}/sms"
SMS_DETAIL = SMS_PAGE + "/{sms_id}"
SMS_RETRY = SMS_DETAIL + "/retry"
SMS_CANCEL = SMS_DETAIL + "/cancel"
PAGE_SIZE = 25

ReadLog = Annotated[Scope, Depends(Guard(Resource.SMS_LOG, Access.READ))]
WriteOutbox = Annotated[Scope, Depends(Guard(Resource.OUTBOX, Access.WRITE))]


def sms_url(account: str) -> str:
    return f"/accounts/{url_part(account)}/sms"


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter form as typed (shown back as it was), with the query it makes."""

    status: str = ""
    number: str = ""
    rule: str = ""
    since: str = ""  # a local date, YYYY-MM-DD
    until: str = ""  # a local date, included
    delivery: str = ""

    def link(self, cursor: str | None = None) -> str:
        """This page's query string (with ``cursor``: the next page's)."""
        fields = {"status": self.status, "number": self.number, "rule": self.rule, "from": self.since}
        fields["to"] = self.until
        fields["delivery"] = self.delivery
        values = {name: value for name, value in fields.items() if value}
        if cursor is not None:
            values["cursor"] = cursor
        return "?" + urlencode(values) if values else ""


def _local_day(text: str, zone: ZoneInfo, field: str, days_after: int = 0) -> datetime | None:
    """A date of the form as the instant its local day starts (``days_after``: a later day's)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text) + timedelta(days=days_after)
    except (ValueError, OverflowError):
        raise InvalidValue(f"{field}: expected a date like 2026-03-10, got {text!r}", field=field) from None
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def log_query(filters: Filters, account_id: int, country: str, zone: ZoneInfo) -> LogQuery:
    """The outbox's query of the form (raises InvalidValue naming the field)."""
    statuses = None
    if filters.status:
        if filters.status not in set(Status):
            raise InvalidValue(f"status: not a status of an SMS: {filters.status!r}", field="status")
        statuses = frozenset({Status(filters.status)})
    number = to_e164(filters.number.strip(), country, field="number") if filters.number.strip() else None
    delivery = shown_delivery_named(filters.delivery) if filters.delivery else None
    if filters.delivery and delivery is None:
        raise InvalidValue(f"delivery: not a delivery status: {filters.delivery!r}", field="delivery")
    return LogQuery(
        statuses=statuses,
        since=_local_day(filters.since, zone, "from"),
        until=_local_day(filters.until, zone, "to", days_after=1),
        number=number,
        account_id=account_id,
        rule_name=filters.rule or None,
        delivery=delivery,
    )


@router.get(SMS_PAGE)
def sms_list(
    request: Request,
    scope: ReadLog,
    status: str = "",
    number: str = "",
    rule: str = "",
    delivery: str = "",
    cursor: str | None = None,
) -> Response:
    """The account's SMS, newest first, a page at a time (``from``/``to``: local dates, both included)."""
    account = scope.require_account()
    frame = account_frame(request, scope)
    params = request.query_params
    filters = Filters(status, number, rule, params.get("from", ""), params.get("to", ""), delivery)
    with scope.read_session() as session:
        found = get_account(session, account.name)
        country, zone = found.country, ZoneInfo(usable_timezone(found.timezone))
        rule_names = [stored.name for stored in stored_rules(session, account.name)]
    rows: list[OutboxRow] = []
    next_cursor: str | None = None
    problem: InvalidValue | None = None
    try:
        query = log_query(filters, account.id, country, zone)
        if query.rule_name is None or can_be_stored(query.rule_name, RULE_NAME_MAX_CHARS):
            page = log_page(SqlOutbox(scope.context.database.engine), query, PAGE_SIZE, cursor or None)
            rows, next_cursor = page.rows, page.next_cursor
    except InvalidValue as exc:
        problem = InvalidValue(translated_problem(str(exc), translator(frame.language)), field=exc.field)
    base = sms_url(account.name)
    return render(
        frame,
        "sms_log.html",
        422 if problem is not None else 200,
        rows=rows,
        filters=filters,
        statuses=list(Status),
        deliveries=[status.value for status in SHOWN_DELIVERY_STATUSES],
        delivery_labels=delivery_labels(translator(frame.language)),
        rule_names=rule_names,
        problem=problem,
        base=base,
        older=base + filters.link(next_cursor) if next_cursor is not None else None,
        newest=base + filters.link() if cursor else None,
        status_labels=sms_status_labels(translator(frame.language)),
    )


def _allowed(check: Callable[[int, Status | None], None], row: OutboxRow) -> bool:
    """Whether the outbox would take the change now (its own decision, asked before offering a button)."""
    try:
        check(row.id, row.status)
    except OutboxError:
        return False
    return True


def detail_page(request: Request, scope: Scope, sms_id: int, *, problem: str | None = None) -> Response:
    account = scope.require_account()
    row = sms_of_account(SqlOutbox(scope.context.database.engine), account.id, sms_id)
    if row is None:
        raise NotFound(f"no SMS with id {sms_id} in the log of account {account.name!r}")
    with scope.read_session() as session:
        call = call_of(session, row)
        replies = replies_of_sms(session, row.id)
    frame = account_frame(request, scope)
    may_write = may(scope.user.principal, Action(Resource.OUTBOX, Access.WRITE), account.id) is Decision.ALLOWED
    _ = translator(frame.language)
    return render(
        frame,
        "sms_detail.html",
        409 if problem is not None else 200,
        sms=row,
        call=call,
        may_retry=may_write and _allowed(check_retry, row),
        may_cancel=may_write and _allowed(check_cancel, row),
        problem=None if problem is None else translated_problem(problem, _),
        base=sms_url(account.name),
        status_labels=sms_status_labels(_),
        call_status_labels=call_status_labels(_),
        direction_labels=direction_labels(_),
        reasons=reason_labels(_),
        replies=replies,
        delivery=row.delivery,
        delivery_labels=delivery_labels(_),
        two_way=sender_can_receive(row.sender),
    )


@router.get(SMS_DETAIL)
def sms_detail(request: Request, sms_id: int, scope: ReadLog) -> Response:
    return detail_page(request, scope, sms_id)


def _change(
    request: Request, scope: Scope, sms_id: int, change: Callable[[SqlOutbox, int, datetime], object]
) -> Response:
    """The outbox's change to the account's SMS (another account's: 404); refused: the detail with the reason."""
    account = scope.require_account()
    outbox = SqlOutbox(scope.context.database.engine)
    if sms_of_account(outbox, account.id, sms_id) is None:
        raise NotFound(f"no SMS with id {sms_id} in the outbox of account {account.name!r}")
    try:
        change(outbox, sms_id, scope.context.clock())
    except OutboxError as exc:
        return detail_page(request, scope, sms_id, problem=str(exc))
    return RedirectResponse(f"{sms_url(account.name)}/{sms_id}", status_code=303)


@router.post(SMS_RETRY)
def retry(request: Request, sms_id: int, scope: WriteOutbox) -> Response:
    return _change(request, scope, sms_id, SqlOutbox.retry)


@router.post(SMS_CANCEL)
def cancel(request: Request, sms_id: int, scope: WriteOutbox) -> Response:
    return _change(request, scope, sms_id, SqlOutbox.cancel)
