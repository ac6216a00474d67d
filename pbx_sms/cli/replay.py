"""``pbx-sms replay PATH``: run a recorded AMI stream through the live parser and call tracker.

``--calls`` prints one JSON object per completed call; it needs no database and writes nothing.
Without it, it prints the SMS the database's rules would send for those calls, like ``simulate``
(the outbox is never written, so opt-outs, intervals and caps, decided there, are not applied).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from pbx_sms.ami.replay import first_line_problem, replay_calls
from pbx_sms.ami.tracker import TrackerConfig
from pbx_sms.cli.context import fail, state
from pbx_sms.config import Settings
from pbx_sms.core.call import CompletedCall
from pbx_sms.core.text_safety import escape_json_controls


def replay(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Raw AMI byte stream (banner, CRLF lines), e.g. a recording.")],
    calls: Annotated[
        bool, typer.Option("--calls", help="Print the completed calls as JSON lines instead of the SMS.")
    ] = False,
) -> None:
    """Replay a recorded AMI stream on its own event time (no waiting) and show the outcome."""
    _check_readable(path)
    settings = state(ctx).settings()
    completed = completed_calls(path, settings)
    try:
        if calls:
            print_calls(completed, settings.pbx_name)
        else:
            print_planned_sms(ctx, completed, settings)
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")


def completed_calls(path: Path, settings: Settings) -> Iterator[CompletedCall]:
    """The calls of a recording, classified exactly as the live listener would."""
    return replay_calls(path, TrackerConfig.from_settings(settings))


def print_calls(completed: Iterator[CompletedCall], pbx: str) -> None:
    """One JSON object per call: ``call_id`` is the Linkedid, ``pbx`` the PBX it is known on."""
    for call in completed:
        typer.echo(escape_json_controls(json.dumps({**call.to_json(), "pbx": pbx}, ensure_ascii=False)))


def print_planned_sms(ctx: typer.Context, completed: Iterator[CompletedCall], settings: Settings) -> None:
    """Each SMS the enabled rules would produce, one JSON object per line, with its call id."""
    from pbx_sms.cli.db import opened_database
    from pbx_sms.core.matching import match_call
    from pbx_sms.manage.simulation import planned_sms_json
    from pbx_sms.storage.config_cache import load_snapshot

    with opened_database(ctx) as database, database.session() as session:
        snapshot = load_snapshot(session)
    for call in completed:
        account = snapshot.account_for_number(call.number)
        rules = [active.rule for active in snapshot.rules_for(account.name)]
        for sms in match_call(call, account.policy(), rules, settings.tracking.internal_max_digits):
            line = {"call_id": call.call_id, **planned_sms_json(sms, account.timezone, account.quiet_hours)}
            typer.echo(escape_json_controls(json.dumps(line, ensure_ascii=False)))


def _check_readable(path: Path) -> None:
    try:
        if not path.exists():
            fail(f"{path}: no such file (expected a recorded AMI stream)")
        if not path.is_file():
            fail(f"{path}: not a file (expected a recorded AMI stream)")
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError as exc:  # also a name too long for the file system
        fail(f"{path}: cannot read: {exc.strerror or exc}")
    problem = first_line_problem(head)
    if problem is not None:
        fail(f"{path}: {problem}")
