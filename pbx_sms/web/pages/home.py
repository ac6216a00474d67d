"""Where a logged-in user starts (``/``), the operator's account chooser, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.accounts import list_accounts
from pbx_sms.storage.users import set_language
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.dashboard import dashboard_url
from pbx_sms.web.pages.render import HOME, frame_of, local_path, render

router = APIRouter(include_in_schema=False)

ACCOUNTS_PAGE = "/accounts"
LANGUAGE_FORM = "/language"


def account_home(account: str) -> str:
    """An account's first page: its dashboard."""
    return dashboard_url(account)


@router.get(HOME)
def home(scope: Annotated[Scope, Depends(Guard(Resource.SELF, Access.READ))]) -> Response:
    account = scope.user.account
    return RedirectResponse(ACCOUNTS_PAGE if account is None else account_home(account), status_code=303)


@router.get(ACCOUNTS_PAGE)
def account_chooser(
    request: Request, scope: Annotated[Scope, Depends(Guard(Resource.ACCOUNTS, Access.READ))]
) -> Response:
    """The operator's list of accounts (an operator has no account of their own to start in)."""
    with scope.read_session() as session:
        accounts = [(account.name, account_home(account.name)) for account in list_accounts(session)]
    return render(frame_of(request, scope.user), "accounts.html", accounts=accounts)


@router.post(LANGUAGE_FORM)
def switch_language(
    scope: Annotated[Scope, Depends(Guard(Resource.SELF, Access.WRITE))],
    language: Annotated[str, Form()],
    next: Annotated[str, Form()] = HOME,
) -> Response:
    """Saves the user's language (their setting from now on, in every browser) and goes back."""
    with scope.write_session() as session:
        set_language(session, scope.user.name, language)  # neither pl nor en: 422 naming the field
    return RedirectResponse(local_path(next) or HOME, status_code=303)
