"""``pbx-sms users``: who may log in to `pbx-sms web`, with which role, on which account.

A password is never an option (it would be in the shell history and in ps): it is asked twice on a
terminal, hidden, or read as one line from standard input with --password-stdin.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer

from pbx_sms.cli.context import fail
from pbx_sms.cli.db import confirm_or_exit, print_json, print_table, read_session, write_session
from pbx_sms.core.access import Role
from pbx_sms.storage import credentials
from pbx_sms.storage.users import (
    UserView,
    add_user,
    change_password,
    check_new_user,
    check_user_name,
    get_user,
    list_users,
    remove_user,
    set_disabled,
    set_language,
)

app = typer.Typer(no_args_is_help=True, help="Users of the web panel and API: roles, accounts, passwords.")


class Language(StrEnum):
    PL = "pl"
    EN = "en"


NameArg = Annotated[str, typer.Argument(help="User name (lower case: letters, digits, . _ @ -).", show_default=False)]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password as one line from standard input (for scripts)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def read_new_password(password_stdin: bool) -> str:
    """The new password: one line of standard input, or asked twice on the terminal, hidden."""
    if password_stdin:
        line = sys.stdin.readline(credentials.MAX_PASSWORD_LENGTH + 2)
        return line.removesuffix("\n").removesuffix("\r")
    if not stdin_is_terminal():
        fail("no terminal to ask for the password on: give it on standard input with --password-stdin")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def user_json(user: UserView) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.value,
        "account": user.account,
        "language": user.language,
        "language_chosen": user.language_chosen,
        "disabled": user.disabled,
        "created_at": _when(user.created_at),
        "updated_at": _when(user.updated_at),
    }


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    role: Annotated[
        Role,
        typer.Option(
            "--role", case_sensitive=False, help="operator: every account; admin: one account; viewer: reads one."
        ),
    ],
    account: Annotated[
        str | None, typer.Option("--account", help="The account of an admin or viewer (not for an operator).")
    ] = None,
    language: Annotated[
        Language | None,
        typer.Option(
            "--language",
            case_sensitive=False,
            help="The web panel's language (default: the browser's, else Polish for an account in PL, else English).",
        ),
    ] = None,
    password_stdin: PasswordStdinOpt = False,
) -> None:
    """Add a user (asks for the password unless --password-stdin)."""
    # Name, role and account are checked before the password is asked for.
    with read_session(ctx) as session:
        check_new_user(session, name, role.value, account, language.value if language else None)
    password = read_new_password(password_stdin)
    with write_session(ctx) as session:
        user = add_user(
            session,
            name,
            role=role.value,
            account=account,
            password=password,
            language=language.value if language else None,
            hasher=credentials.DEFAULT_HASHER,
        )
    where = f" of account {user.account!r}" if user.account else " (every account)"
    typer.echo(f"added user {user.name!r}: {user.role.value}{where}")


@app.command("list")
def list_(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="Only this account's users.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List the users (never their passwords)."""
    with read_session(ctx) as session:
        users = list_users(session, account)
    if json_output:
        print_json([user_json(user) for user in users])
        return
    print_table(
        ["NAME", "ROLE", "ACCOUNT", "LANGUAGE", "STATE", "CREATED"],
        [
            (
                user.name,
                user.role.value,
                user.account or "(all)",
                user.chosen_language or "(browser)",
                "DISABLED" if user.disabled else "enabled",
                _when(user.created_at),
            )
            for user in users
        ],
    )


@app.command("passwd")
def passwd(ctx: typer.Context, name: NameArg, password_stdin: PasswordStdinOpt = False) -> None:
    """Set a user's password; their browser sessions end."""
    with read_session(ctx) as session:
        get_user(session, name)
    password = read_new_password(password_stdin)
    with write_session(ctx) as session:
        change_password(session, name, password, hasher=credentials.DEFAULT_HASHER)
    typer.echo(f"password of user {check_user_name(name)!r} changed")


@app.command("set")
def set_(
    ctx: typer.Context,
    name: NameArg,
    language: Annotated[Language, typer.Option("--language", case_sensitive=False, help="The web panel's language.")],
) -> None:
    """Change a user's settings (today: the panel's language)."""
    with write_session(ctx) as session:
        set_language(session, name, language.value)
    typer.echo(f"user {check_user_name(name)!r}: language {language.value}")


@app.command("disable")
def disable(ctx: typer.Context, name: NameArg) -> None:
    """Disable a user: no login, their tokens stop working, their sessions end (`users enable` undoes it)."""
    with write_session(ctx) as session:
        changed = set_disabled(session, name, True)
    typer.echo(f"user {check_user_name(name)!r} {'disabled' if changed else 'was already disabled'}")


@app.command("enable")
def enable(ctx: typer.Context, name: NameArg) -> None:
    """Enable a disabled user again (their tokens that were not revoked work again)."""
    with write_session(ctx) as session:
        changed = set_disabled(session, name, False)
    typer.echo(f"user {check_user_name(name)!r} {'enabled' if changed else 'was already enabled'}")


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a user with their API tokens and sessions (asks first unless --yes)."""
    # Asked before the write transaction: on SQLite it would hold up every writer while the question waits.
    with read_session(ctx) as session:
        user_name = get_user(session, name).name
    if not yes:
        confirm_or_exit(f"remove user {user_name!r} with their API tokens?")
    with write_session(ctx) as session:
        remove_user(session, user_name)
    typer.echo(f"removed user {check_user_name(name)!r}")
