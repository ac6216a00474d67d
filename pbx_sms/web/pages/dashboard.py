"""An account's dashboard: the daemons and their AMI, today's calls and SMS by status, recent errors,
the delivery of the last 7 days' SMS per rule, and a chart of calls and SMS per hour over the last 7 days
(server-rendered SVG, no script)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_percent
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pbx_sms.core.access import Access, Action, Decision, Resource, may
from pbx_sms.core.sms_status import Status
from pbx_sms.daemon.status import read_status
from pbx_sms.manage.dashboard import hourly_series, recent_errors, today_counts
from pbx_sms.manage.delivery import delivery_report
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.outbox.sql_facts import usable_timezone
from pbx_sms.storage.accounts import get_account
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.dashboard_chart import chart_geometry
from pbx_sms.web.pages.render import render, translator, url_part
from pbx_sms.web.pages.rules import account_frame
from pbx_sms.web.pages.sms_labels import call_status_labels, daemon_state_labels, reason_labels, sms_status_labels

router = APIRouter(include_in_schema=False)

DASHBOARD_PAGE = "/accounts/{account}/dashboard"
CALL_STATUSES = ("answered", "no_answer", "busy", "failed")
RUNNING = "running"
AMI_UP = "up"

ReadDashboard = Annotated[Scope, Depends(Guard(Resource.SMS_LOG, Access.READ))]


def dashboard_url(account: str) -> str:
    return f"/accounts/{url_part(account)}/dashboard"


@dataclass(frozen=True, slots=True)
class DaemonLine:
    pbx: str
    host: str  # shown to operators only: an account's users need not know the installation's hosts
    state: str
    running: bool
    ami_connected: bool
    last_seen_at: str


def daemon_lines(report: dict[str, Any]) -> list[DaemonLine]:
    return [
        DaemonLine(
            pbx=str(daemon.get("pbx") or "–"),
            host=str(daemon["host"]),
            state=str(daemon["state"]),
            running=daemon["state"] == RUNNING,
            ami_connected=daemon["state"] == RUNNING and daemon["ami_state"] == AMI_UP,
            last_seen_at=str(daemon["last_seen_at"]),
        )
        for daemon in report["daemons"]
    ]


def day_label_formatter(language: str) -> Callable[[date], str]:
    """A chart's day as the language writes it short ("Tue 3" / "wt. 3")."""

    def day_label(day: date) -> str:
        return format_date(day, format="EEE d", locale=language)

    return day_label


def rate_formatter(language: str) -> Callable[[float | None], str]:
    """A delivery rate as the language writes a percentage ("97.5%" / "97,5%"); "—" with nothing final."""

    def rate_label(rate: float | None) -> str:
        return "—" if rate is None else format_percent(rate, format="#,##0.#%", locale=language)

    return rate_label


@router.get(DASHBOARD_PAGE)
def dashboard(request: Request, scope: ReadDashboard) -> Response:
    account = scope.require_account()
    frame = account_frame(request, scope)
    now = scope.context.clock()
    with scope.read_session() as session:
        zone = ZoneInfo(usable_timezone(get_account(session, account.name).timezone))
        today = today_counts(session, account.id, account.name, now, zone)
        series = hourly_series(session, account.id, account.name, now, zone)
        delivery = delivery_report(session, account.id, account.name, now)
    errors = recent_errors(SqlOutbox(scope.context.database.engine), account.id)
    daemons = daemon_lines(read_status(scope.context.database.engine, now))
    _ = translator(frame.language)
    operator = may(scope.user.principal, Action(Resource.STATUS, Access.READ), None) is Decision.ALLOWED
    return render(
        frame,
        "dashboard.html",
        daemons=daemons,
        operator=operator,
        today=today,
        call_statuses=CALL_STATUSES,
        sms_statuses=list(Status),
        errors=errors,
        delivery=delivery,
        rate_label=rate_formatter(frame.language),
        chart=chart_geometry(series.hour_starts, series.calls, series.sms, zone),
        base=f"/accounts/{url_part(account.name)}",
        status_labels=sms_status_labels(_),
        call_status_labels=call_status_labels(_),
        day_label=day_label_formatter(frame.language),
        daemon_states=daemon_state_labels(_),
        reasons=reason_labels(_),
    )
