"""An account's company numbers (DIDs): ``/api/v1/accounts/{account}/numbers[/{e164}]``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.numbers import add_number, list_numbers, remove_number
from pbx_sms.web.api import ERROR_RESPONSES, V1, error_responses
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=f"{V1}/accounts/{{account}}/numbers", tags=["numbers"], responses=ERROR_RESPONSES)

ReadNumbers = Annotated[Scope, Depends(Guard(Resource.NUMBERS, Access.READ))]
WriteNumbers = Annotated[Scope, Depends(Guard(Resource.NUMBERS, Access.WRITE))]


class NumberOut(BaseModel):
    e164: str


class NumberIn(BaseModel):
    """A phone number in any format: read with the account's country unless it starts with +."""

    model_config = ConfigDict(extra="forbid")

    number: str


@router.get("", response_model=list[NumberOut])
def list_account_numbers(account: str, scope: ReadNumbers) -> list[NumberOut]:
    with scope.read_session() as session:
        return [NumberOut(e164=e164) for e164, _owner in list_numbers(session, scope.require_account().name)]


@router.post("", status_code=201, response_model=NumberOut, responses=error_responses(409))
def add_account_number(account: str, body: NumberIn, response: Response, scope: WriteNumbers) -> NumberOut:
    """Give the account a number (409 when an account owns it already)."""
    with scope.write_session() as session:
        number = add_number(session, body.number, scope.require_account().name, field="number")
        response.headers["Location"] = f"{V1}/accounts/{account}/numbers/{number.e164}"
        return NumberOut(e164=number.e164)


@router.delete("/{e164}", status_code=204, responses=error_responses(409))
def remove_account_number(account: str, e164: str, scope: WriteNumbers) -> Response:
    """Take the number from the account; refused (409, naming the rules) while an enabled rule uses it."""
    with scope.write_session() as session:
        remove_number(session, e164, scope.require_account().name, field="e164")
    return Response(status_code=204)
