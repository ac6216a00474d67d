"""``pbx-sms optout``: numbers that must never be texted, by one account or (no --account) by all."""

from __future__ import annotations

from typing import Annotated

import typer

from pbx_sms.cli.context import state
from pbx_sms.cli.db import print_json, print_table, read_session, write_session
from pbx_sms.storage.optouts import add_optout, list_optouts, remove_optout

app = typer.Typer(no_args_is_help=True, help="Opt-outs: numbers that are never texted.")

NumberArg = Annotated[str, typer.Argument(help="Phone number (read with the account's or the settings' country).")]
AccountOpt = Annotated[
    str | None, typer.Option("--account", help="Only for this account (default: global, every account).")
]


@app.command("add")
def add(ctx: typer.Context, number: NumberArg, account: AccountOpt = None) -> None:
    """Never text this number again (globally unless --account)."""
    country = state(ctx).settings().country
    with write_session(ctx) as session:
        e164 = add_optout(session, number, account, country)
        typer.echo(f"opted out {e164} ({'account ' + repr(account) if account else 'globally'})")


@app.command("remove")
def remove(ctx: typer.Context, number: NumberArg, account: AccountOpt = None) -> None:
    """Allow texting this number again (the global opt-out unless --account)."""
    country = state(ctx).settings().country
    with write_session(ctx) as session:
        e164 = remove_optout(session, number, account, country)
        typer.echo(f"removed opt-out of {e164} ({'account ' + repr(account) if account else 'global'})")


@app.command("list")
def list_(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option("--account", help="This account's opt-outs and the global ones.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List opt-outs (all of them, or those that apply to --account)."""
    with read_session(ctx) as session:
        rows = list_optouts(session, account)
        if json_output:
            print_json([{"number": e164, "account": name} for e164, name in rows])
        else:
            print_table(["NUMBER", "ACCOUNT"], [(e164, name or "(global)") for e164, name in rows])
