"""An account's sender IDs: ``/api/v1/accounts/{account}/senders[/{sender}]``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.numbers import add_sender, list_senders, remove_sender
from pbx_sms.web.api import ERROR_RESPONSES, V1, error_responses
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=f"{V1}/accounts/{{account}}/senders", tags=["senders"], responses=ERROR_RESPONSES)

ReadSenders = Annotated[Scope, Depends(Guard(Resource.SENDERS, Access.READ))]
WriteSenders = Annotated[Scope, Depends(Guard(Resource.SENDERS, Access.WRITE))]


class SenderOut(BaseModel):
    sender: str


class SenderIn(BaseModel):
    """Alphanumeric (1–11 of A–Z a–z 0–9 space - _ ., at least one letter) or up to 15 digits."""

    model_config = ConfigDict(extra="forbid")

    sender: str


@router.get("", response_model=list[SenderOut])
def list_account_senders(account: str, scope: ReadSenders) -> list[SenderOut]:
    with scope.read_session() as session:
        return [SenderOut(sender=sender) for sender, _owner in list_senders(session, scope.require_account().name)]


@router.post("", status_code=201, response_model=SenderOut, responses=error_responses(409))
def add_account_sender(account: str, body: SenderIn, scope: WriteSenders) -> SenderOut:
    with scope.write_session() as session:
        row = add_sender(session, body.sender, scope.require_account().name, field="sender")
        return SenderOut(sender=row.sender)


@router.delete("/{sender}", status_code=204, responses=error_responses(409))
def remove_account_sender(account: str, sender: str, scope: WriteSenders) -> Response:
    """Remove the sender; refused (409, naming the rules) while an enabled rule sends from it."""
    with scope.write_session() as session:
        remove_sender(session, sender, scope.require_account().name)
    return Response(status_code=204)
