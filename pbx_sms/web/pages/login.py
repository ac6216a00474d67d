"""Log in (GET/POST /login) and log out (POST /logout): the browser session behind every page.

The login form has its own CSRF token, since there is no session yet to bind one to (login CSRF: another
site posting its attacker's credentials would log the victim's browser into the attacker's account). It is
a double-submit token: GET /login sets a random value in an HttpOnly, SameSite=Lax cookie and in the form;
POST /login goes on only when both are present and equal. Another site can neither read the cookie nor
set it, so it cannot forge the pair.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pbx_sms.core.access import Access, Resource
from pbx_sms.core.hook_signatures import secrets_match
from pbx_sms.storage.request_auth import log_in
from pbx_sms.storage.web_sessions import end_session
from pbx_sms.web.context import WebContext
from pbx_sms.web.cookies import clear_session_cookie, set_session_cookie
from pbx_sms.web.errors import LOGIN_PAGE
from pbx_sms.web.guard import CSRF_FORM_FIELD, SESSION_COOKIE, Guard, Scope, context_of, public
from pbx_sms.web.pages.render import HOME, Frame, frame_of, local_path, render, translator

router = APIRouter(include_in_schema=False)

LOGOUT_PAGE = "/logout"


LOGIN_CSRF_COOKIE = "pbx_sms_login_csrf"
LOGIN_CSRF_BYTES = 32
LOGIN_CSRF_MAX_AGE_S = 24 * 3600  # a login form left open for a day still works


def login_csrf_token(request: Request) -> str:
    """The browser's login token if it has a well-formed one (several tabs share it), else a new one."""
    current = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if len(current) == 2 * LOGIN_CSRF_BYTES and all(char in "0123456789abcdef" for char in current):
        return current
    return secrets.token_hex(LOGIN_CSRF_BYTES)


def login_page(
    request: Request, frame: Frame, status_code: int = 200, *, next: str | None, user_name: str, problem: str | None
) -> Response:
    """The login form, with the token in it and in its cookie."""
    context = context_of(request)
    token = login_csrf_token(request)
    page = render(
        frame,
        "login.html",
        status_code,
        next=local_path(next) or "",
        user_name=user_name,
        problem=problem,
        login_csrf=token,
    )
    set_login_csrf_cookie(page, context, token)
    return page


def set_login_csrf_cookie(response: Response, context: WebContext, token: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_MAX_AGE_S,
        path=LOGIN_PAGE,
        httponly=True,
        samesite="lax",
        secure=context.settings.web.cookie_secure,
    )


def login_csrf_ok(request: Request, presented: str) -> bool:
    return secrets_match(request.cookies.get(LOGIN_CSRF_COOKIE, ""), presented)


@router.get(LOGIN_PAGE)
def login_form(request: Request, next: str | None = None) -> Response:
    return login_page(request, frame_of(request, None), next=next, user_name="", problem=None)


public("GET", LOGIN_PAGE)


@router.post(LOGIN_PAGE)
async def login_submit(
    request: Request,
    user: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FORM_FIELD)] = "",
) -> Response:
    context = context_of(request)
    frame = frame_of(request, None)
    _ = translator(frame.language)
    if not login_csrf_ok(request, csrf_token):  # checked before the password: no login attempt is counted
        problem = _("The login form has expired. Log in again.")
        return login_page(request, frame, 403, next=next, user_name=user, problem=problem)
    address = request.client.host if request.client is not None else "unknown"
    outcome = await run_in_threadpool(log_in, context.database, user, password, address, context.clock())
    if outcome.cookie is not None:
        response = RedirectResponse(local_path(next) or HOME, status_code=303)
        set_session_cookie(response, context, outcome.cookie)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PAGE)
        return response
    if outcome.result.retry_after_s is not None:
        status_code = 429
        problem = _("Too many failed logins. Try again in %(seconds)d s.") % {"seconds": outcome.result.retry_after_s}
        headers = {"Retry-After": str(outcome.result.retry_after_s)}
    else:
        status_code, problem, headers = 401, _("Wrong user name or password."), {}
    page = login_page(request, frame, status_code, next=next, user_name=user, problem=problem)
    page.headers.update(headers)
    return page


public("POST", LOGIN_PAGE)


@router.post(LOGOUT_PAGE)
def logout(request: Request, scope: Annotated[Scope, Depends(Guard(Resource.SELF, Access.WRITE))]) -> Response:
    """Ends the server-side session (a copy of the cookie stops working too) and forgets the cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with scope.write_session() as session:
            end_session(session, cookie)
    response = RedirectResponse(LOGIN_PAGE, status_code=303)
    clear_session_cookie(response, scope.context)
    return response
