"""The account page's lists: company numbers, sender IDs and opt-outs, each with an add and a remove form.

Each form calls the storage function the API calls (same checks, same messages); a refusal is shown at
the form's field on the account page (422 for a value that is not valid, 409 for a duplicate or a number
an enabled rule still uses), and a remove of something the account does not have is the HTML 404.
Global opt-outs (every account's) are listed read-only here, for operators too: they are no account's, and
an operator changes them where every account's are (``/api/v1/optouts``, ``pbx-sms optouts``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.errors import AlreadyExists, InvalidValue, Refused
from pbx_sms.storage.numbers import add_number, add_sender, remove_number, remove_sender
from pbx_sms.storage.optouts import add_optout, remove_optout
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.account import ACCOUNT_PAGE, Typed, account_page, account_url, problems_of

router = APIRouter(include_in_schema=False)

NUMBERS_FORM = ACCOUNT_PAGE + "/numbers"
NUMBER_DELETE = NUMBERS_FORM + "/{e164}/delete"
SENDERS_FORM = ACCOUNT_PAGE + "/senders"
SENDER_DELETE = SENDERS_FORM + "/{sender}/delete"
OPTOUTS_FORM = ACCOUNT_PAGE + "/optouts"
OPTOUT_DELETE = OPTOUTS_FORM + "/{optout}/delete"

WriteNumbers = Annotated[Scope, Depends(Guard(Resource.NUMBERS, Access.WRITE))]
WriteSenders = Annotated[Scope, Depends(Guard(Resource.SENDERS, Access.WRITE))]
WriteOptouts = Annotated[Scope, Depends(Guard(Resource.OPTOUTS, Access.WRITE))]

Change = Callable[[Session, str], object]


def changed(request: Request, scope: Scope, change: Change, *, field: str, typed: str = "") -> Response:
    """Runs one change in one transaction: back to the page, or the page with the refusal at ``field``."""
    account = scope.require_account().name
    try:
        with scope.write_session() as session:
            change(session, account)
    except (InvalidValue, AlreadyExists, Refused) as exc:
        status_code = 422 if isinstance(exc, InvalidValue) else 409
        return account_page(
            request, scope, problems=problems_of(exc, field), typed=Typed(adds={field: typed}), status_code=status_code
        )
    return RedirectResponse(account_url(account), status_code=303)


@router.post(NUMBERS_FORM)
def add_account_number(
    request: Request, account: str, scope: WriteNumbers, number: Annotated[str, Form()] = ""
) -> Response:
    return changed(
        request,
        scope,
        lambda session, name: add_number(session, number, name, field="number"),
        field="number",
        typed=number,
    )


@router.post(NUMBER_DELETE)
def remove_account_number(request: Request, account: str, e164: str, scope: WriteNumbers) -> Response:
    """Refused (409, at the list, naming the rules) while an enabled rule uses the number."""
    return changed(request, scope, lambda session, name: remove_number(session, e164, name), field="numbers")


@router.post(SENDERS_FORM)
def add_account_sender(
    request: Request, account: str, scope: WriteSenders, sender: Annotated[str, Form()] = ""
) -> Response:
    return changed(
        request,
        scope,
        lambda session, name: add_sender(session, sender, name, field="sender"),
        field="sender",
        typed=sender,
    )


@router.post(SENDER_DELETE)
def remove_account_sender(request: Request, account: str, sender: str, scope: WriteSenders) -> Response:
    return changed(request, scope, lambda session, name: remove_sender(session, sender, name), field="senders")


@router.post(OPTOUTS_FORM)
def add_account_optout(
    request: Request, account: str, scope: WriteOptouts, optout: Annotated[str, Form()] = ""
) -> Response:
    country = scope.context.settings.country
    return changed(
        request,
        scope,
        lambda session, name: add_optout(session, optout, name, country, field="optout"),
        field="optout",
        typed=optout,
    )


@router.post(OPTOUT_DELETE)
def remove_account_optout(request: Request, account: str, optout: str, scope: WriteOptouts) -> Response:
    """The account's own opt-out; a global one is not the account's (404, as in the API)."""
    country = scope.context.settings.country
    return changed(request, scope, lambda session, name: remove_optout(session, optout, name, country), field="optouts")
