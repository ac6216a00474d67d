"""`pbx-sms run` (the daemon) and `pbx-sms status` (what the daemon and the outbox are doing)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.config import ConfigError
from pbx_sms.core.sms_status import Status
from pbx_sms.core.text_safety import escape_controls
from pbx_sms.gateways.base import GatewayConfigError
from pbx_sms.tasks import TaskFailed


def run(
    ctx: typer.Context,
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="text (default) or json, for log shippers.")
    ] = None,
) -> None:
    """Run the daemon: AMI listener + outbox worker, until SIGTERM/SIGINT."""
    from pbx_sms.daemon.endpoint import EndpointError
    from pbx_sms.daemon.run import run_daemon
    from pbx_sms.logs import setup_logging

    settings = state(ctx).settings()
    chosen_format = log_format or settings.logging.format
    if chosen_format not in ("text", "json"):
        fail(f"--log-format: expected text or json, got {chosen_format!r}", code=2)
    try:
        setup_logging(chosen_format, settings.logging.level)
    except ValueError:
        fail(f"PBX_SMS_LOG_LEVEL: unknown level {settings.logging.level!r} (expected DEBUG, INFO, WARNING or ERROR)")
    try:
        asyncio.run(run_daemon(settings))
    except (ConfigError, GatewayConfigError, EndpointError, TaskFailed) as exc:
        fail(str(exc))


def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the running daemons (AMI connection, calls seen), outbox depth by status, the last error."""
    from pbx_sms.cli.db import opened_database
    from pbx_sms.daemon.status import read_status

    # An unreachable database is one line saying which (exit 1), as for every admin command.
    with opened_database(ctx) as database:
        report = read_status(database.engine)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(render_status(report))


def render_status(report: dict[str, Any]) -> str:
    lines = []
    if not report["daemons"]:
        lines.append("daemon: none has run on this database yet")
    for daemon in report["daemons"]:
        ami = daemon.get("ami", {})
        lines.append(
            f"daemon {daemon['instance']}"
            + (f" (PBX {daemon['pbx']})" if daemon.get("pbx") else "")
            + f": {daemon['state']} (heartbeat {daemon['heartbeat_age_s']} s ago), "
            f"AMI {daemon['ami_state']}" + (f" — last error: {ami['last_error']}" if ami.get("last_error") else "")
        )
        calls = daemon.get("calls", {})
        if calls:
            lines.append(
                f"  calls: {calls.get('completed_calls', 0)} completed, {calls.get('open_calls', 0)} open, "
                f"{calls.get('dropped_calls', 0)} dropped"
                + (
                    f", {calls['bad_timestamps']} events dated at receipt (absurd Timestamp)"
                    if calls.get("bad_timestamps")
                    else ""
                )
                # Calls both the hook and AMI reported, and whose two views would be texted differently.
                + (f", {calls['views_disagreed']} with disagreeing views" if "views_disagreed" in calls else "")
            )
        tasks = daemon.get("tasks") or {}
        if tasks:
            lines.append(
                "  task failures: "
                + ", ".join(f"{name} {c['failures']} (restarted {c['restarts']})" for name, c in sorted(tasks.items()))
            )
    calls = report["calls"]
    evidence = ", ".join(f"{kind} {count}" for kind, count in sorted(calls["by_evidence"].items()))
    lines.append(
        f"calls recorded: {calls['total']} ({calls['last_24h']} in the last 24 h)"
        + (f"; by evidence: {evidence}" if evidence else "")
    )
    outbox = report["outbox"]
    lines.append("outbox: " + ", ".join(f"{status} {outbox.get(status, 0)}" for status in Status))
    error = report["last_send_error"]
    if error:
        lines.append(f"last send error: SMS {error['sms_id']} to {error['to']} at {error['at']}: {error['error']}")
    # Error texts come from gateways and AMI servers: printed as text, never as terminal control.
    return "\n".join(escape_controls(line) for line in lines)
