"""``pbx-sms db prune``: delete old calls and finished SMS (run it from cron or the systemd timer)."""

from __future__ import annotations

from typing import Annotated

import typer

from pbx_sms.cli.context import fail
from pbx_sms.cli.db import confirm_or_exit, opened_database
from pbx_sms.core.clock import utc_now
from pbx_sms.storage.prune import count_prunable, format_age, minimum_age, parse_age, prune


def prune_command(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete what last changed longer ago than this: 90d, 12w, 36h. "
            "At least the longest min_interval_s of any rule, and at least 2d.",
            show_default=False,
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (cron, systemd timer).")] = False,
) -> None:
    """Delete processed calls and finished SMS (sent, failed, suppressed, cancelled) older than --older-than.

    Queued and sending SMS and calls not yet matched are never deleted. Small batches: the daemon keeps running.
    """
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    with opened_database(ctx) as database:
        floor = minimum_age(database.engine)
        if age < floor.age:
            fail(
                f"--older-than {format_age(age)} is shorter than {format_age(floor.age)}: {floor.why}; "
                f"deleting newer SMS would let the rules text numbers again too soon. Use --older-than "
                f"{format_age(floor.age)} or more."
            )
        cutoff = utc_now() - age
        when = cutoff.isoformat(timespec="seconds")
        counts = count_prunable(database.engine, cutoff)
        if counts.calls == 0 and counts.sms == 0:
            typer.echo(f"nothing to delete: no processed call or finished SMS last changed before {when}")
            return
        if not yes:
            confirm_or_exit(f"delete {counts.calls} call(s) and {counts.sms} finished SMS last changed before {when}?")
        deleted = prune(database.engine, cutoff)
    typer.echo(f"deleted {deleted.calls} call(s) and {deleted.sms} finished SMS last changed before {when}")
