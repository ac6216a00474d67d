"""Log in (GET/POST /login) and log out (POST /logout): the browser session behind every page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.request_auth import log_in
from pbx_sms.storage.web_sessions import end_session
from pbx_sms.web.cookies import clear_session_cookie, set_session_cookie
from pbx_sms.web.errors import LOGIN_PAGE
from pbx_sms.web.guard import SESSION_COOKIE, Guard, Scope, context_of, public
from pbx_sms.web.pages.render import HOME, frame_of, local_path, render, translator

router = APIRouter(include_in_schema=False)

LOGOUT_PAGE = "/logout"


@router.get(LOGIN_PAGE)
def login_form(request: Request, next: str | None = None) -> Response:
    return render(frame_of(request, None), "login.html", next=local_path(next) or "", user_name="", problem=None)


public("GET", LOGIN_PAGE)


@router.post(LOGIN_PAGE)
async def login_submit(
    request: Request,
    user: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    context = context_of(request)
    address = request.client.host if request.client is not None else "unknown"
    outcome = await run_in_threadpool(log_in, context.database, user, password, address, context.clock())
    if outcome.cookie is not None:
        response = RedirectResponse(local_path(next) or HOME, status_code=303)
        set_session_cookie(response, context, outcome.cookie)
        return response
    frame = frame_of(request, None)
    _ = translator(frame.language)
    if outcome.result.retry_after_s is not None:
        status_code = 429
        problem = _("Too many failed logins. Try again in %(seconds)d s.") % {"seconds": outcome.result.retry_after_s}
        headers = {"Retry-After": str(outcome.result.retry_after_s)}
    else:
        status_code, problem, headers = 401, _("Wrong user name or password."), {}
    page = render(frame, "login.html", status_code, next=local_path(next) or "", user_name=user, problem=problem)
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
