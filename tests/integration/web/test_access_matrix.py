"""The role × route × method × account matrix, generated from the app's route table.

Every route of ``create_app`` is here without anyone listing it: a route with neither a ``Guard`` nor a
``guard.public(...)`` declaration fails ``test_every_route_has_an_access_rule``; a path parameter
tests/web_seed.py has no value for fails ``test_every_path_parameter_has_a_seed_value``.

For each guarded route and method, each of root (operator), acme-admin and acme-viewer calls it on
acme (own), on globex (other) and, where the path has ids besides ``{account}``, on acme's path with
globex's ids (crossed); a route without ``{account}`` once (global). The expected class comes from
``core.access.may``: allowed → neither 401, 403, 404 nor 5xx (a 409, 412, 422 or 428 for a minimal
body means the access check passed); forbidden → 403; not found → 404. Crossed ids → 404 whenever the
guard lets the caller in (operator too): objects are looked up within the path's account. Two rules are
checked without trusting ``may``: acme's users get 404 on every globex path, and a viewer never gets a
2xx from a write (except on their own user, ``Resource.SELF``). Without credentials: 401 (a page: 303
to the login form).

Writes and the seed: one seeded database per backend serves the whole module (a fresh one per case
would cost 0.3 s on SQLite and 1 s or more on PostgreSQL, times some hundred cases), so a request must
not remove what a later case needs:
- every write sends ``If-Match`` with a version no row has (a route that checks versions answers 412
  and changes nothing) and an empty JSON body (a route with required fields answers 422);
- what is left can change state but removes nothing (enable, cancel, retry: a later case meets 409 at
  worst, still "allowed");
- DELETE cases run last (pytest keeps the parametrized order; the module must not be shuffled), those
  the policy refuses first, then those it allows, and last those removing an account or acting on the
  caller (logging out);
- the two callers a DELETE can succeed for act on different objects: the operator on copy 1 of the
  seed, the admin on copy 2 (tests/web_seed.py), so each finds its own number, rule, sender ... there.

Measured with the routes of this round's other branches merged in (36 guarded route-methods, 219
cases per database, 623 tests): 21 to 33 s on this 2-core machine at load 7 to 11 (11 to 14 s of
CPU), 33 to 48 s with collection.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import fastapi.routing
import pytest
from conftest import DATABASE_KINDS, empty_database
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from web_seed import PATH_PARAMETERS, SeededWorld, seeded_world
from web_world import USERS, route_table_app

from pbx_sms.core.access import Action, Decision, Principal, Resource, Role, may
from pbx_sms.storage.errors import AlreadyExists
from pbx_sms.storage.numbers import add_number, add_sender
from pbx_sms.storage.optouts import add_optout
from pbx_sms.storage.users import account_id_of, get_user, view
from pbx_sms.web import guard
from pbx_sms.web.api import GUARD_STATUSES
from pbx_sms.web.errors import LOGIN_PAGE, is_page_path

ROLES = ("root", "acme-admin", "acme-viewer")
SEED_COPY_OF = {"root": 1, "acme-admin": 2, "acme-viewer": 1}  # the viewer deletes nothing
OWN, OTHER = "acme", "globex"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
NO_ROW_HAS_THIS_VERSION = '"access-matrix-stale"'
ACCESS_PASSED = "not 401, 403, 404 or 5xx"


@dataclass(frozen=True, slots=True)
class Endpoint:
    route: APIRoute
    declared_path: str  # as guard.public(...) names it ({sms_id:int} with a converter)
    path: str  # "/api/v1/accounts/{account}": the template the requests fill in
    method: str

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.path))

    @property
    def scoped(self) -> bool:
        return guard.ACCOUNT_PARAMETER in self.parameters

    @property
    def writes(self) -> bool:
        return self.method in WRITE_METHODS

    @property
    def is_page(self) -> bool:
        return is_page_path(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def api_routes(app: FastAPI) -> Iterator[tuple[APIRoute, str, str]]:
    """(route, path, path format) of every APIRoute. FastAPI ≥ 0.137 keeps an included router as one
    entry of ``app.routes`` with its routes inside: ``iter_route_contexts`` walks them (older: flat)."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    if walk is None:
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route, route.path, route.path_format
        return
    for context in walk(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context.original_route, context.path, context.path_format


def route_table() -> list[Endpoint]:
    """Every (route, method) of the app."""
    return [
        Endpoint(route, path, path_format, method)
        for route, path, path_format in api_routes(route_table_app())
        for method in sorted(route.methods or ())
    ]


ENDPOINTS = route_table()
GUARDED = [endpoint for endpoint in ENDPOINTS if guard.guard_of(endpoint.route) is not None]


def action_of(endpoint: Endpoint) -> Action:
    found = guard.guard_of(endpoint.route)
    assert found is not None, f"{endpoint} has no guard"
    return found.action


@dataclass(frozen=True, slots=True)
class Case:
    endpoint: Endpoint
    user: str
    # "own": acme's path; "other": globex's; "crossed": acme's path with globex's ids; "global": no {account}
    target: str

    def __str__(self) -> str:
        return f"{self.endpoint} {self.user} {self.target}"


# The policy's view of the callers before the database exists (web_world.USERS), with stand-in ids:
# only for ordering the cases; each case asks ``may`` again with the stored user and ids.
STAND_IN_IDS = {OWN: 1, OTHER: 2}


def stand_in_decision(case: Case) -> Decision:
    role, account = USERS[case.user]
    principal = Principal(Role(role), None if account is None else STAND_IN_IDS[account])
    target = None if case.target == "global" else STAND_IN_IDS[OTHER if case.target == "other" else OWN]
    return may(principal, action_of(case.endpoint), target)


def run_order(case: Case) -> tuple[bool, bool, bool]:
    """Sort key (see the module docstring): what removes nothing first, then deletes that remove objects,
    then those that remove an account or act on the caller."""
    endpoint = case.endpoint
    # A page deletes with a POST form to …/delete (browsers post forms; they cannot send DELETE).
    deletes = endpoint.method == "DELETE" or (endpoint.method == "POST" and endpoint.path.endswith("/delete"))
    if not deletes:
        return (False, False, False)
    removes = stand_in_decision(case) is Decision.ALLOWED and case.target != "crossed"
    last = endpoint.path.endswith("{" + guard.ACCOUNT_PARAMETER + "}") or action_of(endpoint).resource is Resource.SELF
    return (True, removes, removes and last)


def matrix_cases() -> list[Case]:
    cases: list[Case] = []
    for endpoint in GUARDED:
        targets = ["own", "other"] if endpoint.scoped else ["global"]
        if endpoint.scoped and len(endpoint.parameters) > 1:
            targets.append("crossed")
        cases += [Case(endpoint, user, target) for user in ROLES for target in targets]
    return sorted(cases, key=run_order)  # stable


@dataclass
class Matrix:
    seeded: SeededWorld
    clients: dict[str, TestClient]
    principals: dict[str, Principal]
    account_ids: dict[str, int]

    def values(self, case: Case) -> dict[str, str]:
        seed, copy = self.seeded.seed, SEED_COPY_OF[case.user]
        if case.target == "global":
            return seed.global_values(copy)
        if case.target == "crossed":
            return seed.path_values(OTHER, copy) | {guard.ACCOUNT_PARAMETER: OWN}
        return seed.path_values(OWN if case.target == "own" else OTHER, copy)

    def account_id(self, target: str) -> int | None:
        return None if target == "global" else self.account_ids[OTHER if target == "other" else OWN]


@pytest.fixture(scope="module", params=DATABASE_KINDS)
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    with empty_database(request.param, tmp_path_factory.mktemp("matrix")) as url:
        for seeded in seeded_world(url):
            world = seeded.world
            with world.database.session() as session:
                principals = {name: view(session, get_user(session, name)).principal for name in ROLES}
                account_ids = {name: account_id_of(session, name) for name in (OWN, OTHER)}
            yield Matrix(seeded, {name: world.as_(name) for name in ROLES}, principals, account_ids)


def url_of(endpoint: Endpoint, values: dict[str, str]) -> str:
    missing = [name for name in endpoint.parameters if name not in values]
    if missing:
        pytest.fail(f"{endpoint}: no seed value for path parameter {{{missing[0]}}}: add it to tests/web_seed.py")
    return endpoint.path.format(**{name: quote(values[name], safe="") for name in endpoint.parameters})


def send(client: TestClient, endpoint: Endpoint, url: str) -> Response:
    """The request with the least in it: an empty JSON body, and a version no row has for a write."""
    answer: Response = client.request(
        endpoint.method,
        url,
        json={} if endpoint.method in BODY_METHODS else None,
        headers={"If-Match": NO_ROW_HAS_THIS_VERSION} if endpoint.writes else None,
        follow_redirects=False,
    )
    return answer


def expected_class(decision: Decision) -> str:
    return {Decision.ALLOWED: ACCESS_PASSED, Decision.FORBIDDEN: "403", Decision.NOT_FOUND: "404"}[decision]


def outcome_class(status: int) -> str:
    if status in (401, 403, 404) or status >= 500:
        return str(status)
    return ACCESS_PASSED


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_every_route_has_an_access_rule(endpoint: Endpoint) -> None:
    declared_public = (endpoint.method, endpoint.declared_path) in guard.PUBLIC_ROUTES
    assert guard.guard_of(endpoint.route) is not None or declared_public, (
        f"{endpoint} has no access rule: add a Guard dependency (pbx_sms.web.guard) or guard.public(...)"
    )


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_every_path_parameter_has_a_seed_value(endpoint: Endpoint) -> None:
    missing = [name for name in endpoint.parameters if name not in PATH_PARAMETERS]
    assert not missing, f"{endpoint}: no seed value for path parameter {{{missing[0]}}}: add it to tests/web_seed.py"


@pytest.mark.parametrize("endpoint", [endpoint for endpoint in GUARDED if not endpoint.is_page], ids=str)
def test_every_guarded_route_documents_its_error_answers(endpoint: Endpoint) -> None:
    documented = {int(status) for status in endpoint.route.responses}
    missing = sorted(set(GUARD_STATUSES) - documented)
    assert not missing, (
        f"{endpoint} does not document {missing}: give its router responses=ERROR_RESPONSES (pbx_sms.web.api)"
    )


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_without_credentials_a_guarded_route_answers_401(matrix: Matrix, endpoint: Endpoint) -> None:
    values = matrix.seeded.seed.path_values(OWN) if endpoint.scoped else matrix.seeded.seed.global_values()
    answer = send(matrix.seeded.world.client, endpoint, url_of(endpoint, values))
    if endpoint.is_page and endpoint.method == "GET":
        assert (answer.status_code, answer.headers["location"].split("?")[0]) == (303, LOGIN_PAGE)
    else:
        assert answer.status_code == 401, f"{endpoint} without credentials: {answer.status_code} {answer.text}"


# The account page removes the same numbers, senders and opt-outs as the API's DELETEs, which run before
# it and need no version: the seed's object is put back before a page's remove (never for "crossed", whose
# ids must stay another account's).
PAGE_REMOVES = {
    "/numbers/{e164}/delete": "e164",
    "/senders/{sender}/delete": "sender",
    "/optouts/{optout}/delete": "optout",
}


def restore_for_page_remove(matrix: Matrix, case: Case, values: dict[str, str]) -> None:
    kind = next((name for suffix, name in PAGE_REMOVES.items() if case.endpoint.path.endswith(suffix)), None)
    if kind is None or not case.endpoint.is_page or case.target == "crossed":
        return
    account, value = values[guard.ACCOUNT_PARAMETER], values[kind]
    with matrix.seeded.world.database.write_session() as session:
        try:
            if kind == "e164":
                add_number(session, value, account)
            elif kind == "sender":
                add_sender(session, value, account)
            else:
                add_optout(session, value, account, "PL")
        except AlreadyExists:
            session.rollback()


@pytest.mark.parametrize("case", matrix_cases(), ids=str)
def test_access_matrix(matrix: Matrix, case: Case) -> None:
    endpoint, principal, action = case.endpoint, matrix.principals[case.user], action_of(case.endpoint)
    decision = may(principal, action, matrix.account_id(case.target))
    restore_for_page_remove(matrix, case, matrix.values(case))
    url = url_of(endpoint, matrix.values(case))
    answer = send(matrix.clients[case.user], endpoint, url)

    expected = "404" if case.target == "crossed" and decision is Decision.ALLOWED else expected_class(decision)
    said = f"{case} at {url} ({decision.value} by core.access.may): {answer.status_code} {answer.text[:300]}"
    assert outcome_class(answer.status_code) == expected, f"expected {expected}: {said}"
    if principal.role is not Role.OPERATOR and case.target == "other":
        assert answer.status_code == 404, f"another tenant's path must be 404: {said}"
    if principal.role is Role.VIEWER and endpoint.writes and action.resource is not Resource.SELF:
        assert not 200 <= answer.status_code < 300, f"a viewer changed something: {said}"
