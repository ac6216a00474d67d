"""``pbx-sms accounts``: tenants, with their time zone, country, allowed countries, SMS switch, cap and
quiet hours."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.cli.db import confirm_or_exit, print_json, print_table, read_session, write_session
from pbx_sms.db.config_tables import Account
from pbx_sms.storage.accounts import (
    AccountChanges,
    account_contents,
    add_account_with_defaults,
    get_account,
    list_accounts,
    remove_account,
    stored_quiet_hours,
    to_config,
    update_account,
)
from pbx_sms.storage.numbers import list_numbers, list_senders
from pbx_sms.storage.records import DEFAULT_DAILY_CAP

app = typer.Typer(no_args_is_help=True, help="Accounts (tenants): time zone, country, SMS service, daily cap.")

NameArg = Annotated[str, typer.Argument(help="Account name.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TimezoneOpt = Annotated[str | None, typer.Option("--timezone", help="IANA time zone, e.g. Europe/Warsaw.")]
CountryOpt = Annotated[
    str | None, typer.Option("--country", help="Two-letter country: default region for reading numbers.")
]
AllowCountryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-country",
        help="Country the account may text (repeat for several). Replaces the list.",
        show_default=False,
    ),
]
SmsOpt = Annotated[bool | None, typer.Option("--sms-enabled/--sms-disabled", help="The account's SMS service switch.")]
CapOpt = Annotated[int | None, typer.Option("--daily-cap", min=0, help="At most N SMS per day.", show_default=False)]
QuietOpt = Annotated[
    str | None,
    typer.Option(
        "--quiet-hours",
        help="No SMS in this daily window of the account's time zone, e.g. 21:00-08:00 (may cross midnight); "
        "an SMS due then waits for its end.",
        show_default=False,
    ),
]


def account_json(account: Account) -> dict[str, Any]:
    config = to_config(account)
    return {
        "name": config.name,
        "timezone": config.timezone,
        "country": config.country,
        "allowed_countries": list(config.allowed_countries),
        "sms_enabled": config.sms_enabled,
        "daily_cap": config.daily_cap,
        "quiet_hours": account.quiet_hours,
        "created_at": account.created_at.isoformat() if account.created_at else None,
        "updated_at": account.updated_at.isoformat() if account.updated_at else None,
    }


def _row(account: Account) -> list[Any]:
    return [
        account.name,
        account.timezone,
        account.country,
        account.allowed_countries,
        "on" if account.sms_enabled else "OFF",
        account.daily_cap if account.daily_cap is not None else "none",
        account.quiet_hours or "none",
    ]


HEADERS = ["NAME", "TIMEZONE", "COUNTRY", "ALLOWED", "SMS", "DAILY CAP", "QUIET HOURS"]


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    timezone: TimezoneOpt = None,
    country: CountryOpt = None,
    allow_country: AllowCountryOpt = None,
    sms_enabled: Annotated[
        bool, typer.Option("--sms-enabled/--sms-disabled", help="The account's SMS service switch.")
    ] = True,
    daily_cap: Annotated[
        int | None,
        typer.Option(
            "--daily-cap", min=0, help=f"At most N SMS per day (default {DEFAULT_DAILY_CAP}).", show_default=False
        ),
    ] = None,
    no_daily_cap: Annotated[bool, typer.Option("--no-daily-cap", help="No daily cap at all.")] = False,
    quiet_hours: QuietOpt = None,
) -> None:
    """Add an account (time zone and country default to the settings; the daily cap to 200 SMS,
    --no-daily-cap for none)."""
    if daily_cap is not None and no_daily_cap:
        fail("--daily-cap and --no-daily-cap contradict each other", code=2)
    settings = state(ctx).settings()
    with write_session(ctx) as session:
        account = add_account_with_defaults(
            session,
            name,
            settings,
            timezone=timezone,
            country=country,
            allowed_countries=allow_country or (),
            sms_enabled=sms_enabled,
            daily_cap=None if no_daily_cap else DEFAULT_DAILY_CAP if daily_cap is None else daily_cap,
            quiet_hours=quiet_hours,
        )
        typer.echo(f"added account {account.name!r}")


@app.command("list")
def list_(ctx: typer.Context, json_output: JsonOpt = False) -> None:
    """List the accounts."""
    with read_session(ctx) as session:
        accounts = list_accounts(session)
        if json_output:
            print_json([account_json(account) for account in accounts])
        else:
            print_table(HEADERS, [_row(account) for account in accounts])


@app.command("show")
def show(ctx: typer.Context, name: NameArg, json_output: JsonOpt = False) -> None:
    """Show an account with its numbers, senders and how many rules and opt-outs it has."""
    with read_session(ctx) as session:
        account = get_account(session, name)
        contents = account_contents(session, account)
        numbers = [e164 for e164, _ in list_numbers(session, name)]
        senders = [sender for sender, _ in list_senders(session, name)]
        if json_output:
            print_json(
                account_json(account)
                | {"numbers": numbers, "senders": senders, "rules": contents.rules, "optouts": contents.optouts}
            )
            return
        config = to_config(account)
        lines = [
            ("name", config.name),
            ("timezone", config.timezone),
            ("country", config.country),
            ("allowed countries", ", ".join(config.allowed_countries)),
            ("SMS service", "on" if config.sms_enabled else "OFF (rules do not send)"),
            ("daily cap", config.daily_cap if config.daily_cap is not None else "none"),
            ("quiet hours", _quiet_hours_line(account)),
            ("numbers", ", ".join(numbers) or "none"),
            ("senders", ", ".join(senders) or "none"),
            ("rules", contents.rules),
            ("opt-outs", contents.optouts),
        ]
        for label, value in lines:
            typer.echo(f"{label + ':':<19}{value}")


@app.command("set")
def set_(
    ctx: typer.Context,
    name: NameArg,
    timezone: TimezoneOpt = None,
    country: CountryOpt = None,
    allow_country: AllowCountryOpt = None,
    sms_enabled: SmsOpt = None,
    daily_cap: CapOpt = None,
    no_daily_cap: Annotated[bool, typer.Option("--no-daily-cap", help="Remove the daily cap.")] = False,
    quiet_hours: QuietOpt = None,
    no_quiet_hours: Annotated[
        bool, typer.Option("--no-quiet-hours", help="Remove the quiet hours (send around the clock).")
    ] = False,
) -> None:
    """Change an account's settings (only the options given)."""
    if daily_cap is not None and no_daily_cap:
        fail("--daily-cap and --no-daily-cap contradict each other", code=2)
    if quiet_hours is not None and no_quiet_hours:
        fail("--quiet-hours and --no-quiet-hours contradict each other", code=2)
    changes = AccountChanges(
        timezone=timezone,
        country=country,
        allowed_countries=allow_country,
        sms_enabled=sms_enabled,
        daily_cap=daily_cap,
        clear_daily_cap=no_daily_cap,
        quiet_hours=quiet_hours,
        clear_quiet_hours=no_quiet_hours,
    )
    if changes == AccountChanges():
        fail("nothing to change: give at least one option (see --help)", code=2)
    with write_session(ctx) as session:
        account = update_account(session, name, changes)
        typer.echo(f"updated account {account.name!r}")
        print_table(HEADERS, [_row(account)])


def _quiet_hours_line(account: Account) -> str:
    if account.quiet_hours is None:
        return "none"
    if stored_quiet_hours(account.quiet_hours) is None:
        return f"{account.quiet_hours!r} is not valid and is ignored (expected HH:MM-HH:MM)"
    return f"{account.quiet_hours} (no SMS then: SMS due then wait for the end)"


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove an account with its numbers, senders, rules and opt-outs (asks first unless --yes)."""
    with write_session(ctx) as session:
        account = get_account(session, name)
        contents = account_contents(session, account)
        if not yes:
            confirm_or_exit(
                f"remove account {name!r} with {contents.numbers} number(s), {contents.senders} sender(s), "
                f"{contents.rules} rule(s) and {contents.optouts} opt-out(s)?"
            )
        remove_account(session, name)
        typer.echo(f"removed account {name!r}")
