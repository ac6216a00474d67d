"""The ``pbx-sms`` command: one Typer app; each sub-command lives in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pbx_sms.cli.context import CliState

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Send SMS after Asterisk calls, by rules kept in a database.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="TOML config file (default: $PBX_SMS_CONFIG, else none)."),
    ] = None,
) -> None:
    ctx.obj = CliState(config_path=config)


# Sub-commands register themselves on import (one line per module).
from pbx_sms.cli import rules as rules_cli  # noqa: E402
from pbx_sms.cli import simulate as simulate_cli  # noqa: E402

app.add_typer(rules_cli.app, name="rules")
app.command("simulate")(simulate_cli.simulate)
# rules_db adds import/export/list/show/enable/disable/delete to the rules app.
from pbx_sms.cli import accounts, db, numbers, optout, rules_db, senders  # noqa: E402, F401

app.add_typer(accounts.app, name="accounts")
app.add_typer(numbers.app, name="numbers")
app.add_typer(senders.app, name="senders")
app.add_typer(optout.app, name="optout")
app.add_typer(db.app, name="db")

from pbx_sms.cli import replay  # noqa: E402

app.command("replay")(replay.replay)

from pbx_sms.cli import outbox as outbox_cli  # noqa: E402
from pbx_sms.cli import smslog  # noqa: E402

app.add_typer(outbox_cli.app, name="outbox")
app.command("log")(smslog.smslog)

from pbx_sms.cli import daemon as daemon_cli  # noqa: E402

app.command("run")(daemon_cli.run)
app.command("status")(daemon_cli.status)

from pbx_sms.cli import prune as prune_cli  # noqa: E402

db.app.command("prune")(prune_cli.prune_command)


def main() -> None:
    app()
