"""``pbx-sms tokens``: API tokens (``Authorization: Bearer``) of users; a token is shown once, at creation."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pbx_sms.cli.db import print_json, print_table, read_session, write_session
from pbx_sms.core.clock import utc_now
from pbx_sms.storage.api_tokens import MAX_TOKEN_ID, TokenView, create_token, list_tokens, revoke_token

app = typer.Typer(no_args_is_help=True, help="API tokens of users: create (shown once), list, revoke.")

UserArg = Annotated[str, typer.Argument(help="The user the token acts as.", show_default=False)]
IdArg = Annotated[int, typer.Argument(min=1, max=MAX_TOKEN_ID, help="The token's id (first column of `tokens list`).")]


def token_json(token: TokenView) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": token.user,
        "name": token.name,
        "created_at": token.created_at.isoformat(timespec="seconds"),
        "last_used_at": token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else None,
    }


@app.command("create")
def create(
    ctx: typer.Context,
    user: UserArg,
    name: Annotated[str, typer.Option("--name", help="A label: what the token is for.")] = "",
) -> None:
    """Create a token for USER; it is printed once, on standard output (store it now)."""
    with write_session(ctx) as session:
        view, token = create_token(session, user, utc_now(), name=name)
    typer.echo(
        f"token {view.id} of user {view.user!r} (shown only now; revoke with `pbx-sms tokens revoke {view.id}`):",
        err=True,
    )
    typer.echo(token)


@app.command("list")
def list_(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Argument(help="Only this user's tokens.", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List tokens (never the tokens themselves): id, user, label, when created, last used, revoked."""
    with read_session(ctx) as session:
        tokens = list_tokens(session, user)
    if json_output:
        print_json([token_json(token) for token in tokens])
        return
    rows = [[value or "-" for value in (token_json(token) | {"name": token.name or None}).values()] for token in tokens]
    print_table(["ID", "USER", "NAME", "CREATED", "LAST USED", "REVOKED"], rows)


@app.command("revoke")
def revoke(ctx: typer.Context, token_id: IdArg) -> None:
    """Revoke a token by id: it stops working at once."""
    with write_session(ctx) as session:
        view, was_valid = revoke_token(session, token_id, utc_now())
    typer.echo(f"token {view.id} of user {view.user!r} {'revoked' if was_valid else 'was already revoked'}")
