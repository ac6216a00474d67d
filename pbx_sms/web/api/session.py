"""Browser sessions: ``POST /api/v1/session`` logs in (sets the session cookie), ``GET`` names the
caller and the session's CSRF token, ``DELETE`` logs out (the server-side session ends, so a copy of
the cookie stops working too).

Logins are throttled (5 failures per user name or per address within a minute: 429 with Retry-After)
and logged without the password; a wrong password and an unknown user get the same 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.credentials import csrf_token
from pbx_sms.storage.request_auth import log_in
from pbx_sms.storage.web_sessions import end_session
from pbx_sms.web.api import ERROR_RESPONSES, V1, error_responses
from pbx_sms.web.api.me import Me, me_of
from pbx_sms.web.cookies import clear_session_cookie, set_session_cookie
from pbx_sms.web.errors import ApiError
from pbx_sms.web.guard import SESSION_COOKIE, USER_NAME_STATE, Guard, Scope, context_of, public

router = APIRouter(prefix=V1, tags=["session"], responses=ERROR_RESPONSES)
SESSION_PATH = "/session"
WRONG_LOGIN = "wrong user name or password"


class Credentials(BaseModel):
    user: str
    password: str


class SessionOut(BaseModel):
    user: Me
    # Send it as X-CSRF-Token (or the form field csrf_token) with every change made with the cookie.
    csrf_token: str | None


@router.post(SESSION_PATH, response_model=SessionOut, responses=error_responses(429))
def start_browser_session(credentials: Credentials, request: Request, response: Response) -> SessionOut:
    """Log in with a user name and password: the answer sets the session cookie (HttpOnly)."""
    context = context_of(request)
    address = request.client.host if request.client else "unknown"
    # A plain def: FastAPI runs it in a thread, so the event loop serves others during argon2's check.
    now = context.clock()
    login = log_in(context.database, credentials.user, credentials.password, address, now, hasher=context.hasher)
    if login.result.retry_after_s is not None:
        retry_after_s = login.result.retry_after_s
        raise ApiError(
            429, f"too many failed logins: try again in {retry_after_s} s", headers={"Retry-After": str(retry_after_s)}
        )
    if login.result.user is None or login.cookie is None:
        raise ApiError(401, WRONG_LOGIN)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # a new login replaces the browser's session: the old one ends rather than lingering
        with context.database.write_session() as session:
            end_session(session, previous)
    set_session_cookie(response, context, login.cookie)
    setattr(request.state, USER_NAME_STATE, login.result.user.name)
    return SessionOut(user=me_of(login.result.user), csrf_token=login.csrf)


public("POST", V1 + SESSION_PATH)


@router.get(SESSION_PATH, response_model=SessionOut)
def read_browser_session(
    request: Request, scope: Annotated[Scope, Depends(Guard(Resource.SELF, Access.READ))]
) -> SessionOut:
    """The caller, and the CSRF token of their session (null for a bearer token, which needs none)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    return SessionOut(
        user=me_of(scope.user), csrf_token=csrf_token(cookie) if scope.caller.by_session and cookie else None
    )


@router.delete(SESSION_PATH, status_code=204)
def end_browser_session(
    request: Request, scope: Annotated[Scope, Depends(Guard(Resource.SELF, Access.WRITE))]
) -> Response:
    """Log out: the session ends on the server and the cookie is cleared."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not scope.caller.by_session or not cookie:
        raise ApiError(400, "no browser session to end: a bearer token is revoked with `pbx-sms tokens revoke ID`")
    with scope.write_session() as session:
        end_session(session, cookie)
    response = Response(status_code=204)
    clear_session_cookie(response, scope.context)
    return response
