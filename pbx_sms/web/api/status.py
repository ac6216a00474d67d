"""What is running and how much: ``/api/v1/status`` (operator: the daemons, their AMI connections, every
SMS and call) and ``/api/v1/accounts/{account}/status`` (an account's own counts, its admins and viewers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from pbx_sms.core.access import Access, Resource
from pbx_sms.core.sms_status import Status
from pbx_sms.daemon.status import read_status
from pbx_sms.storage.sms_counts import calls_since, sms_by_status
from pbx_sms.web.api import ERROR_RESPONSES, V1
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=V1, tags=["status"], responses=ERROR_RESPONSES)

# The window `pbx-sms status` counts recent calls in.
RECENT = timedelta(days=1)
AMI_CONNECTED = "up"
RUNNING = "running"

# The daemon row's own fields; the rest of a heartbeat is its counters (calls, worker, tasks, fastagi).
_DAEMON_FIELDS = ("instance", "pbx", "host", "state", "started_at", "last_seen_at", "heartbeat_age_s", "ami_state")


class DaemonOut(BaseModel):
    """One daemon's last heartbeat. ``state``: running, stopped, not responding, or gone; ``ami_connected``:
    running with its AMI connection up; ``counters``: what it reported (calls seen, worker, tasks)."""

    instance: str
    pbx: str | None
    host: str
    state: str
    started_at: datetime
    last_seen_at: datetime
    heartbeat_age_s: float
    ami_state: str
    ami_connected: bool
    ami_last_error: str | None
    counters: dict[str, Any]


class CallCounts(BaseModel):
    total: int
    last_24h: int


class SendError(BaseModel):
    sms_id: int
    to: str
    error: str
    at: datetime


class StatusOut(BaseModel):
    daemons: list[DaemonOut]
    calls: CallCounts
    sms_by_status: dict[Status, int]
    last_send_error: SendError | None


class AccountStatusOut(BaseModel):
    sms_by_status: dict[Status, int]
    calls_last_24h: int


def _daemon_out(daemon: dict[str, Any]) -> DaemonOut:
    ami = daemon.get("ami")
    last_error = ami.get("last_error") if isinstance(ami, dict) else None
    return DaemonOut(
        **{name: daemon.get(name) for name in _DAEMON_FIELDS},
        ami_connected=daemon["state"] == RUNNING and daemon["ami_state"] == AMI_CONNECTED,
        ami_last_error=str(last_error) if last_error is not None else None,
        counters={name: value for name, value in daemon.items() if name not in _DAEMON_FIELDS},
    )


@router.get("/status", response_model=StatusOut)
def read_installation_status(scope: Annotated[Scope, Depends(Guard(Resource.STATUS, Access.READ))]) -> StatusOut:
    """The daemons (as `pbx-sms status --json`), the SMS of every account by status, the calls."""
    report = read_status(scope.context.database.engine, scope.context.clock())
    by_status = dict.fromkeys(Status, 0) | {Status(name): count for name, count in report["outbox"].items()}
    error = report["last_send_error"]
    return StatusOut(
        daemons=[_daemon_out(daemon) for daemon in report["daemons"]],
        calls=CallCounts(total=report["calls"]["total"], last_24h=report["calls"]["last_24h"]),
        sms_by_status=by_status,
        last_send_error=SendError(**error) if error is not None else None,
    )


@router.get("/accounts/{account}/status", response_model=AccountStatusOut)
def read_account_status(
    account: str, scope: Annotated[Scope, Depends(Guard(Resource.SMS_LOG, Access.READ))]
) -> AccountStatusOut:
    """The account's SMS by status and its calls of the last 24 hours."""
    ref = scope.require_account()
    with scope.read_session() as session:
        return AccountStatusOut(
            sms_by_status=sms_by_status(session, ref.id),
            calls_last_24h=calls_since(session, ref.name, scope.context.clock() - RECENT),
        )
