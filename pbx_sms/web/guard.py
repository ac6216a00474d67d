"""Every route's access check: who is calling, and may they do this on this account.

A route declares what it does with a ``Guard`` dependency::

    def list_rules(scope: Annotated[Scope, Depends(Guard(Resource.RULES, Access.READ))]) -> ...

The guard identifies the caller (bearer token or session cookie; 401 without), checks CSRF for a
browser session's state-changing request (403), resolves the ``{account}`` path parameter (404 for an
unknown account and, the same answer, for another tenant's) and asks ``core.access.may`` (403/404).
A route with no guard must be in ``PUBLIC_ROUTES``: the role × route test reads both from the route
table, so a route added without an access rule fails the suite.

Objects inside an account (a rule, an SMS by id) are looked up *within* ``scope.account``: an id of
another account is then simply not found, whatever the caller guessed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pbx_sms.core.access import Access, Action, Decision, Resource, may
from pbx_sms.core.web_session import csrf_required
from pbx_sms.storage.actor import set_actor
from pbx_sms.storage.errors import NotFound
from pbx_sms.storage.request_auth import Caller, csrf_ok, identify
from pbx_sms.storage.users import UserView, account_id_of
from pbx_sms.web.errors import ApiError, CsrfRefused, NotAuthenticated

if TYPE_CHECKING:
    from pbx_sms.web.context import WebContext

SESSION_COOKIE = "pbx_sms_session"
CSRF_HEADER = "X-CSRF-Token"
CALLER_STATE = "caller"
CSRF_FORM_FIELD = "csrf_token"
ACCOUNT_PARAMETER = "account"
USER_NAME_STATE = "user_name"  # request.state.user_name: the caller, for the request's log line

# (method, path) of the routes anyone may call: the login form and what a browser needs before it.
PUBLIC_ROUTES: set[tuple[str, str]] = set()


def public(method: str, path: str) -> None:
    """Declare a route as open to everyone (called next to the route's definition)."""
    PUBLIC_ROUTES.add((method.upper(), path))


@dataclass(frozen=True, slots=True)
class AccountRef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Scope:
    """What a guarded route may act on: the caller and, for an ``{account}`` path, that account."""

    context: WebContext
    caller: Caller
    account: AccountRef | None

    @property
    def user(self) -> UserView:
        return self.caller.user

    @property
    def actor(self) -> str:
        """Who made a change, as the audit log names them."""
        return f"web:{self.caller.user.name}"

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        with self.context.database.session() as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """One transaction, committed when the block ends without an error; changes are this caller's."""
        with self.context.database.write_session() as session:
            set_actor(session, self.actor)
            yield session

    def require_account(self) -> AccountRef:
        if self.account is None:  # a route without {account} asked for it: a bug, not a client error
            raise RuntimeError("this route has no {account} path parameter")
        return self.account


def context_of(request: Request) -> WebContext:
    context: WebContext = request.app.state.context
    return context


class Guard:
    """The access rule of one route; FastAPI calls it before the route (see the module docstring)."""

    def __init__(self, resource: Resource, access: Access) -> None:
        self.action = Action(resource, access)

    def __repr__(self) -> str:
        return f"Guard({self.action.resource.value}, {self.action.access.value})"

    async def __call__(self, request: Request) -> Scope:
        context = context_of(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        # One trip to the thread pool for both lookups: each trip costs more than the queries.
        caller, account = await run_in_threadpool(_caller_and_account, context, request, cookie)
        if caller is None:
            raise NotAuthenticated()
        setattr(request.state, USER_NAME_STATE, caller.user.name)
        setattr(request.state, CALLER_STATE, caller)  # an error page shows who is logged in, without a lookup
        # The form is read only when the token matters: a bearer call's body is the route's business.
        presented = await _presented_csrf(request) if csrf_required(request.method, caller.by_session) else None
        if not csrf_ok(caller, request.method, cookie, presented):
            raise CsrfRefused(f"CSRF token missing or wrong: send the page's token as {CSRF_HEADER}")
        decision = may(caller.user.principal, self.action, None if account is None else account.id)
        if decision is Decision.NOT_FOUND:
            raise ApiError(404, f"account {request.path_params.get(ACCOUNT_PARAMETER)!r} does not exist")
        if decision is Decision.FORBIDDEN:
            action = f"{self.action.access.value} {self.action.resource.value}"
            raise ApiError(403, f"{caller.user.role.value}: may not {action}")
        return Scope(context, caller, account)


def _caller_and_account(
    context: WebContext, request: Request, cookie: str | None
) -> tuple[Caller | None, AccountRef | None]:
    caller = identify(
        context.database,
        authorization=request.headers.get("authorization"),
        session_cookie=cookie,
        now=context.clock(),
        limits=context.session_limits,
    )
    # An unknown caller learns nothing about which accounts exist: 401 before the account's 404.
    return (caller, None) if caller is None else (caller, _account_of_path(context, request))


async def _presented_csrf(request: Request) -> str | None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FORM_FIELD)  # cached: the route reads the same form
        presented = value if isinstance(value, str) else None
    return presented


def _account_of_path(context: WebContext, request: Request) -> AccountRef | None:
    name = request.path_params.get(ACCOUNT_PARAMETER)
    if name is None:
        return None
    try:
        with context.database.session() as session:
            return AccountRef(account_id_of(session, name), name)
    except NotFound:
        raise ApiError(404, f"account {name!r} does not exist") from None


def guard_of(route: APIRoute) -> Guard | None:
    """The route's guard, found in its dependencies (for the role × route test and the docs)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Guard):
            return dependency.call
        pending.extend(dependency.dependencies)
    return None


def caller_of(request: Request) -> Caller | None:
    """The caller the guard identified for this request (None: no guard ran, or it found nobody)."""
    found = getattr(request.state, CALLER_STATE, None)
    return found if isinstance(found, Caller) else None
