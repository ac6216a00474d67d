"""``pbx-sms numbers``: the company numbers (DIDs) each account owns."""

from __future__ import annotations

from typing import Annotated

import typer

from pbx_sms.cli.db import print_owned, read_session, write_session
from pbx_sms.storage.numbers import add_number, list_numbers, remove_number
from pbx_sms.storage.records import DEFAULT_ACCOUNT

app = typer.Typer(no_args_is_help=True, help="Company numbers (DIDs), each owned by one account.")

NumberArg = Annotated[
    str, typer.Argument(help="Phone number; read with the account's country unless it starts with +.")
]
AccountOpt = Annotated[str, typer.Option("--account", help="Account name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("add")
def add(ctx: typer.Context, number: NumberArg, account: AccountOpt = DEFAULT_ACCOUNT) -> None:
    """Give a company number to an account (stored in E.164)."""
    with write_session(ctx) as session:
        row = add_number(session, number, account)
        typer.echo(f"added number {row.e164} to account {account!r}")


@app.command("list")
def list_(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="Only this account's numbers.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List company numbers (all accounts unless --account)."""
    with read_session(ctx) as session:
        print_owned("number", list_numbers(session, account), json_output)


@app.command("remove")
def remove(ctx: typer.Context, number: NumberArg, account: AccountOpt = DEFAULT_ACCOUNT) -> None:
    """Take a number from an account (refused while an enabled rule names it)."""
    with write_session(ctx) as session:
        e164 = remove_number(session, number, account)
        typer.echo(f"removed number {e164} from account {account!r}")
