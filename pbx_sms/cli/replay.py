"""``pbx-sms replay PATH``: run a recorded AMI stream through the live parser and call tracker.

``--calls`` prints one JSON object per completed call; it needs no database and writes nothing.
Without it the command is to print the SMS the database's rules would send for those calls.
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


def replay(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Raw AMI byte stream (banner, CRLF lines), e.g. a recording.")],
    calls: Annotated[
        bool, typer.Option("--calls", help="Print the completed calls as JSON lines instead of the SMS.")
    ] = False,
) -> None:
    """Replay a recorded AMI stream on its own event time (no waiting) and show the outcome."""
    if not calls:
        fail("replay without --calls (the SMS the rules would send) is not available yet; use --calls")
    _check_readable(path)
    settings = state(ctx).settings()
    completed = completed_calls(path, settings)
    try:
        print_calls(completed)
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")


def completed_calls(path: Path, settings: Settings) -> Iterator[CompletedCall]:
    """The calls of a recording, classified exactly as the live listener would."""
    return replay_calls(path, TrackerConfig.from_settings(settings))


def print_calls(completed: Iterator[CompletedCall]) -> None:
    for call in completed:
        typer.echo(json.dumps(call.to_json(), ensure_ascii=False))


def _check_readable(path: Path) -> None:
    if not path.exists():
        fail(f"{path}: no such file (expected a recorded AMI stream)")
    if not path.is_file():
        fail(f"{path}: not a file (expected a recorded AMI stream)")
    try:
        with path.open("rb") as handle:
            head = handle.read(256)
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror or exc}")
        return
    problem = first_line_problem(head)
    if problem is not None:
        fail(f"{path}: {problem}")
