"""Accounts: ``/api/v1/accounts`` (operator) and ``/api/v1/accounts/{account}`` (its own users read it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from pbx_sms.core.access import Access, Resource
from pbx_sms.db.config_tables import Account
from pbx_sms.storage.accounts import get_account, list_accounts
from pbx_sms.storage.values import decode_list
from pbx_sms.web.api import ERROR_RESPONSES, V1
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.versions import version_of

router = APIRouter(prefix=V1, tags=["accounts"], responses=ERROR_RESPONSES)


class AccountOut(BaseModel):
    name: str
    timezone: str
    country: str
    allowed_countries: list[str]
    sms_enabled: bool
    daily_cap: int | None
    quiet_hours: str | None


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


@router.get("/accounts", response_model=list[AccountOut])
def list_all_accounts(scope: Annotated[Scope, Depends(Guard(Resource.ACCOUNTS, Access.READ))]) -> list[AccountOut]:
    with scope.read_session() as session:
        return [account_out(account) for account in list_accounts(session)]


@router.get("/accounts/{account}", response_model=AccountOut)
def read_account(
    account: str, response: Response, scope: Annotated[Scope, Depends(Guard(Resource.ACCOUNTS, Access.READ))]
) -> AccountOut:
    with scope.read_session() as session:
        found = account_out(get_account(session, scope.require_account().name))
    response.headers["ETag"] = version_of(found.model_dump())
    return found
