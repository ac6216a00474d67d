"""Accounts (tenants): create, change, remove, and which account owns a company number."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import pbx_sms.storage.audit  # noqa: F401  (its session event records every change; all audited modules import this one)
from pbx_sms.config import Settings
from pbx_sms.core.bounds import ACCOUNT_NAME_MAX_CHARS
from pbx_sms.core.quiet_hours import QuietHours
from pbx_sms.db.config_tables import Account, CompanyNumber, OptOut, RuleRow, Sender
from pbx_sms.storage.errors import AlreadyExists, InvalidValue, NotFound, Refused
from pbx_sms.storage.field_checks import FieldChecks
from pbx_sms.storage.records import DEFAULT_ACCOUNT, DEFAULT_DAILY_CAP, AccountConfig
from pbx_sms.storage.values import (
    can_be_stored,
    check_account_name,
    check_country,
    check_daily_cap,
    check_timezone,
    decode_list,
    encode_countries,
)

log = logging.getLogger(__name__)


def check_quiet_hours(value: str) -> str:
    """Quiet hours as typed by an admin → the stored text ("21:00-08:00"); InvalidValue says what is wrong."""
    try:
        return str(QuietHours.parse(value))
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


@lru_cache(maxsize=256)
def stored_quiet_hours(value: str | None) -> QuietHours | None:
    """The ``quiet_hours`` column as read. A value written by hand in SQL that does not parse must not
    stop the daemon: it is logged once (per process and value) and the account has no quiet hours."""
    if value is None or not value.strip():
        return None
    try:
        return QuietHours.parse(value)
    except ValueError as exc:
        log.error(
            "accounts.quiet_hours: %s; ignored until corrected (pbx-sms accounts set --quiet-hours)",
            exc,
            extra={"column": "accounts.quiet_hours", "value": value},
        )
        return None


def ensure_default_account(session: Session, timezone: str, country: str) -> None:
    """Create the ``default`` account if it is missing (safe when several processes start at once), with
    the default daily cap; an existing one is left as it is."""
    values = {
        "name": DEFAULT_ACCOUNT,
        "timezone": check_timezone(timezone),
        "country": check_country(country),
        "allowed_countries": check_country(country),
        "sms_enabled": True,
        "daily_cap": DEFAULT_DAILY_CAP,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(Account).values(**values).on_conflict_do_nothing(index_elements=["name"]))


def get_account(session: Session, name: str, *, for_update: bool = False) -> Account:
    """The account by name; ``for_update`` locks its row to the end of the transaction (PostgreSQL; a
    SQLite write transaction holds the whole database), so a version checked stays current."""
    query = select(Account).where(Account.name == name)
    account = (
        session.scalar(query.with_for_update() if for_update else query)
        if can_be_stored(name, ACCOUNT_NAME_MAX_CHARS)
        else None
    )
    if account is None:
        raise NotFound(f"account {name!r} does not exist (see `pbx-sms accounts list`)")
    return account


def list_accounts(session: Session) -> Sequence[Account]:
    return session.scalars(select(Account).order_by(Account.name)).all()


def add_account(
    session: Session,
    name: str,
    *,
    timezone: str,
    country: str,
    allowed_countries: Sequence[str] = (),
    sms_enabled: bool = True,
    daily_cap: int | None = DEFAULT_DAILY_CAP,
    quiet_hours: str | None = None,
) -> Account:
    """A new account; ``daily_cap`` None = no cap (explicitly), the default is ``DEFAULT_DAILY_CAP``."""
    checks = FieldChecks()
    name = checks.check("name", check_account_name, name)
    timezone = checks.check("timezone", check_timezone, timezone)
    country = checks.check("country", check_country, country)
    countries = checks.check("allowed_countries", encode_countries, allowed_countries)
    daily_cap = checks.check("daily_cap", check_daily_cap, daily_cap)
    if quiet_hours is not None:
        quiet_hours = checks.check("quiet_hours", check_quiet_hours, quiet_hours)
    checks.done()
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise AlreadyExists(f"account {name!r} already exists")
    account = Account(
        name=name,
        timezone=timezone,
        country=country,
        allowed_countries=countries or country,
        sms_enabled=sms_enabled,
        daily_cap=daily_cap,
        quiet_hours=quiet_hours,
    )
    session.add(account)
    session.flush()
    return account


def add_account_with_defaults(
    session: Session,
    name: str,
    settings: Settings,
    *,
    timezone: str | None = None,
    country: str | None = None,
    allowed_countries: Sequence[str] = (),
    sms_enabled: bool = True,
    daily_cap: int | None = DEFAULT_DAILY_CAP,
    quiet_hours: str | None = None,
) -> Account:
    """A new account as `pbx-sms accounts add` and ``POST /api/v1/accounts`` make it: time zone and
    country not given are the settings', allowed countries not given the account's country."""
    return add_account(
        session,
        name,
        timezone=settings.timezone if timezone is None else timezone,
        country=settings.country if country is None else country,
        allowed_countries=allowed_countries,
        sms_enabled=sms_enabled,
        daily_cap=daily_cap,
        quiet_hours=quiet_hours,
    )


@dataclass(frozen=True)
class AccountChanges:
    """Fields to change; None = leave as is. ``clear_daily_cap`` removes the cap, ``clear_quiet_hours``
    the quiet hours."""

    timezone: str | None = None
    country: str | None = None
    allowed_countries: Sequence[str] | None = None
    sms_enabled: bool | None = None
    daily_cap: int | None = None
    clear_daily_cap: bool = False
    quiet_hours: str | None = None
    clear_quiet_hours: bool = False


def update_account(session: Session, name: str, changes: AccountChanges) -> Account:
    account = get_account(session, name)
    checks = FieldChecks()
    timezone = checks.check("timezone", check_timezone, changes.timezone) if changes.timezone is not None else None
    country = checks.check("country", check_country, changes.country) if changes.country is not None else None
    countries = (
        checks.check("allowed_countries", encode_countries, changes.allowed_countries)
        if changes.allowed_countries is not None
        else None
    )
    daily_cap = checks.check("daily_cap", check_daily_cap, changes.daily_cap)
    quiet_hours = (
        checks.check("quiet_hours", check_quiet_hours, changes.quiet_hours) if changes.quiet_hours is not None else None
    )
    checks.done()
    if timezone is not None:
        account.timezone = timezone
    if country is not None:
        account.country = country
    if countries is not None:
        account.allowed_countries = countries
    if changes.sms_enabled is not None:
        account.sms_enabled = changes.sms_enabled
    if changes.clear_daily_cap:
        account.daily_cap = None
    elif daily_cap is not None:
        account.daily_cap = daily_cap
    if changes.clear_quiet_hours:
        account.quiet_hours = None
    elif quiet_hours is not None:
        account.quiet_hours = quiet_hours
    session.flush()
    return account


@dataclass(frozen=True)
class AccountContents:
    numbers: int
    senders: int
    rules: int
    optouts: int


def account_contents(session: Session, account: Account) -> AccountContents:
    def count(model: type[CompanyNumber] | type[Sender] | type[RuleRow] | type[OptOut]) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.account_id == account.id)) or 0

    return AccountContents(count(CompanyNumber), count(Sender), count(RuleRow), count(OptOut))


def remove_account(session: Session, name: str) -> AccountContents:
    """Remove an account with its numbers, senders, rules and opt-outs. ``default`` cannot be removed."""
    if name == DEFAULT_ACCOUNT:
        raise Refused("account 'default' cannot be removed: calls to numbers no account owns belong to it")
    account = get_account(session, name)
    contents = account_contents(session, account)
    # Deleting its rules cancels their queued SMS: a trigger does it (migration 0005).
    for model in (RuleRow, Sender, CompanyNumber, OptOut):
        session.execute(delete(model).where(model.account_id == account.id))
    session.delete(account)
    session.flush()
    return contents


def to_config(account: Account) -> AccountConfig:
    return AccountConfig(
        id=account.id,
        name=account.name,
        timezone=account.timezone,
        country=account.country,
        allowed_countries=tuple(decode_list(account.allowed_countries)),
        sms_enabled=account.sms_enabled,
        daily_cap=account.daily_cap,
        quiet_hours=stored_quiet_hours(account.quiet_hours),
    )


def account_for_number(session: Session, e164: str | None) -> Account:
    """The account that owns a company number; ``default`` when no account does (or there is none)."""
    if e164:
        owner = session.scalar(
            select(Account)
            .join(CompanyNumber, CompanyNumber.account_id == Account.id)
            .where(CompanyNumber.e164 == e164)
        )
        if owner is not None:
            return owner
    return get_account(session, DEFAULT_ACCOUNT)
