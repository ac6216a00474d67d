"""``/api/v1/audit`` and ``/api/v1/accounts/{account}/audit``: who sees which entries, filters, pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from web_world import WebWorld, web_world

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.numbers import add_number
from pbx_sms.web.guard import Guard, Scope


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def entries(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["entries"]
    return found


def keys(found: list[dict[str, Any]]) -> list[tuple[str | None, str, str, str]]:
    return [(entry["account"], entry["entity"], entry["key"], entry["action"]) for entry in found]


def add_number_route(app: FastAPI) -> None:
    """A write route as the API's own are made (guard, write session, a storage function): this test's
    only, so that it does not depend on which write routes exist yet."""
    router = APIRouter()

    @router.post("/test/accounts/{account}/numbers/{e164}")
    def add(account: str, e164: str, scope: Annotated[Scope, Depends(Guard(Resource.NUMBERS, Access.WRITE))]) -> None:
        with scope.write_session() as session:
            add_number(session, e164, scope.require_account().name)

    app.include_router(router)


def test_the_operator_sees_every_entry_and_filters_them(web: WebWorld) -> None:
    root = web.as_("root")
    everything = entries(root.get("/api/v1/audit", params={"limit": 1000}))
    assert ("globex", "account", "globex", "create") in keys(everything)
    assert (None, "user", "root", "create") in keys(everything)
    assert [entry["id"] for entry in everything] == sorted((entry["id"] for entry in everything), reverse=True)

    globex = entries(root.get("/api/v1/audit", params={"account": "globex"}))
    assert {entry["account"] for entry in globex} == {"globex"}
    assert {entry["entity"] for entry in globex} == {"account", "user", "token"}
    tokens = entries(root.get("/api/v1/audit", params={"account": "globex", "entity": "token"}))
    assert [entry["action"] for entry in tokens] == ["create", "create"]
    assert entries(root.get("/api/v1/audit", params={"since": "2999-01-01T00:00:00"})) == []
    assert len(entries(root.get("/api/v1/audit", params={"since": "2000-01-01T00:00:00+02:00"}))) == len(everything)

    text = root.get("/api/v1/audit", params={"limit": 1000}).text
    assert not any(token in text for token in web.tokens.values())
    assert "password_hash" not in text and "digest" not in text


def test_pages_follow_the_cursor_without_gaps_or_repeats(web: WebWorld) -> None:
    root = web.as_("root")
    everything = [entry["id"] for entry in entries(root.get("/api/v1/audit", params={"limit": 1000}))]
    seen: list[int] = []
    cursor: int | None = None
    pages = 0
    while True:
        params: dict[str, int] = {"limit": 3} | ({} if cursor is None else {"cursor": cursor})
        answer = root.get("/api/v1/audit", params=params).json()
        seen += [entry["id"] for entry in answer["entries"]]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert seen == everything
    assert pages == -(-len(everything) // 3)  # no empty last page


def test_an_account_sees_only_its_own_entries_about_what_it_may_read(web: WebWorld) -> None:
    for user in ("acme-admin", "acme-viewer"):
        client = web.as_(user)
        own = entries(client.get("/api/v1/accounts/acme/audit"))
        assert keys(own) == [("acme", "account", "acme", "create")]  # users and tokens: operators only
        assert client.get("/api/v1/audit").status_code == 403
        other = client.get("/api/v1/accounts/globex/audit")
        unknown = client.get("/api/v1/accounts/initech/audit")
        assert other.status_code == unknown.status_code == 404
        assert other.json()["detail"].replace("globex", "X") == unknown.json()["detail"].replace("initech", "X")
    operator_view = entries(web.as_("root").get("/api/v1/accounts/acme/audit"))
    assert {entry["entity"] for entry in operator_view} == {"account", "user", "token"}


def test_a_change_through_the_api_is_recorded_as_the_caller(web: WebWorld) -> None:
    app = web.client.app
    assert isinstance(app, FastAPI)
    add_number_route(app)
    assert web.as_("acme-admin").post("/test/accounts/acme/numbers/+48221234567").status_code == 200

    newest = entries(web.as_("acme-viewer").get("/api/v1/accounts/acme/audit", params={"entity": "number"}))
    assert len(newest) == 1
    assert newest[0] | {"id": 0, "at": ""} == {
        "id": 0,
        "at": "",
        "actor": "web:acme-admin",
        "account": "acme",
        "entity": "number",
        "key": "+48221234567",
        "action": "create",
        "before": None,
        "after": {"e164": "+48221234567"},
        "changes": [],
    }
    globex = entries(web.as_("globex-admin").get("/api/v1/accounts/globex/audit"))
    assert "number" not in {entry["entity"] for entry in globex}


def test_bad_parameters_are_422_naming_the_parameter(web: WebWorld) -> None:
    root = web.as_("root")
    cases = {
        "entity": {"entity": "rules"},
        "limit": {"limit": 0},
        "cursor": {"cursor": -1},
        "since": {"since": "0001-01-01T00:00:00+01:00"},
    }
    for field, params in cases.items():
        answer = root.get("/api/v1/audit", params=params)
        assert answer.status_code == 422, (field, answer.text)
        assert [problem["field"] for problem in answer.json()["errors"]] == [field]
