"""``pbx-sms senders``: the sender IDs each account has registered with its gateway."""

from __future__ import annotations

from typing import Annotated

import typer

from pbx_sms.cli.db import print_owned, read_session, write_session
from pbx_sms.storage.numbers import add_sender, list_senders, remove_sender
from pbx_sms.storage.records import DEFAULT_ACCOUNT

app = typer.Typer(no_args_is_help=True, help="Sender IDs an account's rules may send from.")

SenderArg = Annotated[
    str,
    typer.Argument(
        help="Alphanumeric (1-11 of A-Z a-z 0-9 space - _ ., at least one letter) or up to 15 digits.",
        show_default=False,
    ),
]
AccountOpt = Annotated[str, typer.Option("--account", help="Account name.")]


@app.command("add")
def add(ctx: typer.Context, sender: SenderArg, account: AccountOpt = DEFAULT_ACCOUNT) -> None:
    """Register a sender ID for an account."""
    with write_session(ctx) as session:
        add_sender(session, sender, account)
        typer.echo(f"added sender {sender!r} to account {account!r}")


@app.command("list")
def list_(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="Only this account's senders.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List sender IDs (all accounts unless --account)."""
    with read_session(ctx) as session:
        print_owned("sender", list_senders(session, account), json_output)


@app.command("remove")
def remove(ctx: typer.Context, sender: SenderArg, account: AccountOpt = DEFAULT_ACCOUNT) -> None:
    """Remove a sender ID (refused while an enabled rule sends from it)."""
    with write_session(ctx) as session:
        remove_sender(session, sender, account)
        typer.echo(f"removed sender {sender!r} from account {account!r}")
