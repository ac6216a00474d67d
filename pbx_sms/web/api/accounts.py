"""Accounts: ``/api/v1/accounts`` (operator: list, create) and ``/api/v1/accounts/{account}`` (its own
users read it; the operator changes and removes it, with If-Match)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict

from pbx_sms.core.access import Access, Action, Decision, Resource, may
from pbx_sms.db.config_tables import Account
from pbx_sms.storage.accounts import (
    AccountChanges,
    add_account_with_defaults,
    get_account,
    list_accounts,
    remove_account,
    update_account,
)
from pbx_sms.storage.errors import InvalidValue, InvalidValues
from pbx_sms.storage.records import DEFAULT_DAILY_CAP
from pbx_sms.storage.values import decode_list
from pbx_sms.web.api import ERROR_RESPONSES, V1, error_responses
from pbx_sms.web.errors import ApiError, FieldProblem
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.versions import check_if_match, version_of

router = APIRouter(prefix=V1, tags=["accounts"], responses=ERROR_RESPONSES)

ReadAccounts = Annotated[Scope, Depends(Guard(Resource.ACCOUNTS, Access.READ))]
WriteAccounts = Annotated[Scope, Depends(Guard(Resource.ACCOUNTS, Access.WRITE))]
WriteSettings = Annotated[Scope, Depends(Guard(Resource.SETTINGS, Access.WRITE))]
# What PATCH changes only for an operator (the Account page's service switch; the countries SMS may go to).
OPERATOR_FIELDS = frozenset({"sms_enabled", "allowed_countries"})


class AccountOut(BaseModel):
    name: str
    timezone: str
    country: str
    allowed_countries: list[str]
    sms_enabled: bool
    daily_cap: int | None
    quiet_hours: str | None


class AccountIn(BaseModel):
    """A new account: time zone and country default to the settings, the daily cap to 200 SMS a day
    (``null``: no cap), allowed countries to the account's country."""

    model_config = ConfigDict(extra="forbid")

    name: str
    timezone: str | None = None
    country: str | None = None
    allowed_countries: list[str] = []
    sms_enabled: bool = True
    daily_cap: int | None = DEFAULT_DAILY_CAP
    quiet_hours: str | None = None


class AccountPatch(BaseModel):
    """The fields to change, the others as they are. ``daily_cap: null`` removes the cap,
    ``quiet_hours: null`` the quiet hours; the other fields cannot be null."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = None
    country: str | None = None
    allowed_countries: list[str] | None = None
    sms_enabled: bool | None = None
    daily_cap: int | None = None
    quiet_hours: str | None = None

    def changes(self) -> AccountChanges:
        given = self.model_fields_set
        nulls = [
            InvalidValue(f"{name}: must not be null (leave it out to keep it)", field=name)
            for name in ("timezone", "country", "allowed_countries", "sms_enabled")
            if name in given and getattr(self, name) is None
        ]
        if nulls:
            raise nulls[0] if len(nulls) == 1 else InvalidValues(nulls)
        return AccountChanges(
            timezone=self.timezone,
            country=self.country,
            allowed_countries=self.allowed_countries,
            sms_enabled=self.sms_enabled,
            daily_cap=self.daily_cap,
            clear_daily_cap="daily_cap" in given and self.daily_cap is None,
            quiet_hours=self.quiet_hours,
            clear_quiet_hours="quiet_hours" in given and self.quiet_hours is None,
        )


def account_out(account: Account) -> AccountOut:
    return AccountOut(
        name=account.name,
        timezone=account.timezone,
        country=account.country,
        allowed_countries=decode_list(account.allowed_countries),
        sms_enabled=account.sms_enabled,
        daily_cap=account.daily_cap,
        quiet_hours=account.quiet_hours,
    )


def account_version(account: Account) -> str:
    """The account's ETag: a digest of what the API shows of it (an edit by SQL changes it too)."""
    return version_of(account_out(account).model_dump())


def _versioned(account: Account, response: Response) -> AccountOut:
    """The account as answered, with its version in ETag (what a later change's If-Match names)."""
    response.headers["ETag"] = account_version(account)
    return account_out(account)


@router.get("/accounts", response_model=list[AccountOut])
def list_all_accounts(scope: ReadAccounts) -> list[AccountOut]:
    with scope.read_session() as session:
        return [account_out(account) for account in list_accounts(session)]


@router.post("/accounts", status_code=201, response_model=AccountOut, responses=error_responses(409))
def create_account(body: AccountIn, response: Response, scope: WriteAccounts) -> AccountOut:
    with scope.write_session() as session:
        account = add_account_with_defaults(
            session,
            body.name,
            scope.context.settings,
            timezone=body.timezone,
            country=body.country,
            allowed_countries=body.allowed_countries,
            sms_enabled=body.sms_enabled,
            daily_cap=body.daily_cap,
            quiet_hours=body.quiet_hours,
        )
        response.headers["Location"] = f"{V1}/accounts/{quote(account.name, safe='')}"
        return _versioned(account, response)


@router.get("/accounts/{account}", response_model=AccountOut)
def read_account(account: str, response: Response, scope: ReadAccounts) -> AccountOut:
    with scope.read_session() as session:
        return _versioned(get_account(session, scope.require_account().name), response)


@router.patch("/accounts/{account}", response_model=AccountOut, responses=error_responses(412, 428))
def change_account(
    account: str, body: AccountPatch, request: Request, response: Response, scope: WriteSettings
) -> AccountOut:
    """Change the account's settings. The account's admin changes what the Account page lets them change
    (daily cap, quiet hours, time zone, country); the SMS service switch and the allowed countries are the
    operator's (403 naming the field, nothing changed)."""
    ref = scope.require_account()
    operator_only = sorted(OPERATOR_FIELDS & body.model_fields_set)
    if operator_only and may(scope.user.principal, Action(Resource.ACCOUNTS, Access.WRITE), ref.id) is not (
        Decision.ALLOWED
    ):
        problems = [FieldProblem(field, "only an operator changes this field") for field in operator_only]
        raise ApiError(
            403, f"only an operator changes {', '.join(operator_only)}; nothing was changed", problems=problems
        )
    changes = body.changes()
    name = ref.name
    with scope.write_session() as session:
        check_if_match(request, account_version(get_account(session, name, for_update=True)))
        return _versioned(update_account(session, name, changes), response)


@router.delete("/accounts/{account}", status_code=204, responses=error_responses(409, 412, 428))
def delete_account(account: str, request: Request, scope: WriteAccounts) -> Response:
    """Remove the account with its numbers, senders, rules, opt-outs and users (its queued SMS are
    cancelled); ``default`` is refused (409), as by `pbx-sms accounts remove`."""
    name = scope.require_account().name
    with scope.write_session() as session:
        check_if_match(request, account_version(get_account(session, name, for_update=True)))
        remove_account(session, name)
    return Response(status_code=204)
