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


# Sub-commands, in the order `--help` lists them: the daemon first, then dry runs, then admin.
from pbx_sms.cli import (  # noqa: E402
    accounts,
    audit,
    daemon,
    db,
    delivery,
    numbers,
    optout,
    outbox,
    prune,
    replay,
    replies,
    rules,
    rules_backtest,  # noqa: F401  (adds backtest to `rules`)
    rules_db,  # noqa: F401  (adds import/export/list/show/enable/disable/delete to `rules`)
    senders,
    simulate,
    smslog,
    tokens,
    users,
    web,
)

app.command("run")(daemon.run)
app.command("web")(web.web)
app.command("status")(daemon.status)
app.command("simulate")(simulate.simulate)
app.command("replay")(replay.replay)
app.add_typer(rules.app, name="rules")
app.add_typer(accounts.app, name="accounts")
app.add_typer(numbers.app, name="numbers")
app.add_typer(senders.app, name="senders")
app.add_typer(optout.app, name="optout")
app.add_typer(outbox.app, name="outbox")
app.command("log")(smslog.smslog)
app.command("replies")(replies.replies)
app.command("delivery")(delivery.delivery)
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.command("audit")(audit.audit)
db.app.command("prune")(prune.prune_command)
app.add_typer(db.app, name="db")


def main() -> None:
    app()
