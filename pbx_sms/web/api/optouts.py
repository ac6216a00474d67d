"""Opt-outs: an account's (``/api/v1/accounts/{account}/optouts[/{optout}]``, its admin) and the
global ones that hold for every account (``/api/v1/optouts[/{optout}]``, operator only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.optouts import add_optout, list_global_optouts, list_optouts, remove_optout
from pbx_sms.web.api import ERROR_RESPONSES, V1, error_responses
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=V1, tags=["optouts"], responses=ERROR_RESPONSES)

ReadOptouts = Annotated[Scope, Depends(Guard(Resource.OPTOUTS, Access.READ))]
WriteOptouts = Annotated[Scope, Depends(Guard(Resource.OPTOUTS, Access.WRITE))]


class OptoutOut(BaseModel):
    """``is_global``: opted out of every account (listed with an account's own, changed by an operator)."""

    number: str
    is_global: bool


class OptoutIn(BaseModel):
    """A phone number in any format: read with the account's country (global: the settings')."""

    model_config = ConfigDict(extra="forbid")

    number: str


@router.get("/accounts/{account}/optouts", response_model=list[OptoutOut])
def list_account_optouts(account: str, scope: ReadOptouts) -> list[OptoutOut]:
    """The numbers the account never texts: its own opt-outs and the global ones."""
    with scope.read_session() as session:
        rows = list_optouts(session, scope.require_account().name)
        return [OptoutOut(number=e164, is_global=owner is None) for e164, owner in rows]


@router.post("/accounts/{account}/optouts", status_code=201, response_model=OptoutOut, responses=error_responses(409))
def add_account_optout(account: str, body: OptoutIn, scope: WriteOptouts) -> OptoutOut:
    with scope.write_session() as session:
        e164 = add_optout(session, body.number, scope.require_account().name, _country(scope), field="number")
        return OptoutOut(number=e164, is_global=False)


@router.delete("/accounts/{account}/optouts/{optout}", status_code=204)
def remove_account_optout(account: str, optout: str, scope: WriteOptouts) -> Response:
    """Text the number again (the account's own opt-out; a global one is not the account's: 404)."""
    with scope.write_session() as session:
        remove_optout(session, optout, scope.require_account().name, _country(scope), field="optout")
    return Response(status_code=204)


@router.get("/optouts", response_model=list[OptoutOut])
def list_all_global_optouts(scope: ReadOptouts) -> list[OptoutOut]:
    with scope.read_session() as session:
        return [OptoutOut(number=e164, is_global=True) for e164 in list_global_optouts(session)]


@router.post("/optouts", status_code=201, response_model=OptoutOut, responses=error_responses(409))
def add_global_optout(body: OptoutIn, scope: WriteOptouts) -> OptoutOut:
    with scope.write_session() as session:
        e164 = add_optout(session, body.number, None, _country(scope), field="number")
        return OptoutOut(number=e164, is_global=True)


@router.delete("/optouts/{optout}", status_code=204)
def remove_global_optout(optout: str, scope: WriteOptouts) -> Response:
    with scope.write_session() as session:
        remove_optout(session, optout, None, _country(scope), field="optout")
    return Response(status_code=204)


def _country(scope: Scope) -> str:
    """The country a number without + is read with when no account's applies (the settings')."""
    return scope.context.settings.country
