"""Accounts through the API: created with the CLI's defaults, changed with If-Match, removed like the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from web_world import WebWorld, web_world

from pbx_sms.storage.numbers import list_numbers
from pbx_sms.storage.records import DEFAULT_DAILY_CAP
from pbx_sms.storage.users import list_users


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def _etag(web: WebWorld, account: str) -> str:
    return web.as_("root").get(f"/api/v1/accounts/{account}").headers["ETag"]


def test_an_operator_creates_an_account_with_the_cli_defaults(web: WebWorld) -> None:
    answer = web.as_("root").post("/api/v1/accounts", json={"name": "initech"})
    assert answer.status_code == 201
    assert answer.json() == {
        "name": "initech",
        "timezone": web.settings.timezone,
        "country": web.settings.country,
        "allowed_countries": [web.settings.country],
        "sms_enabled": True,
        "daily_cap": DEFAULT_DAILY_CAP,
        "quiet_hours": None,
    }
    assert answer.headers["ETag"] == _etag(web, "initech")


def test_an_explicit_null_daily_cap_means_no_cap(web: WebWorld) -> None:
    answer = web.as_("root").post(
        "/api/v1/accounts", json={"name": "initech", "daily_cap": None, "quiet_hours": "21:00-08:00"}
    )
    assert answer.status_code == 201
    assert answer.json()["daily_cap"] is None
    assert answer.json()["quiet_hours"] == "21:00-08:00"


def test_a_second_account_of_the_same_name_is_409(web: WebWorld) -> None:
    answer = web.as_("root").post("/api/v1/accounts", json={"name": "acme"})
    assert answer.status_code == 409
    assert "acme" in answer.json()["detail"]


def test_every_wrong_field_is_named_and_nothing_is_created(web: WebWorld) -> None:
    answer = web.as_("root").post(
        "/api/v1/accounts",
        json={"name": "initech", "timezone": "Mars/Olympus", "country": "XX", "daily_cap": -1},
    )
    assert answer.status_code == 422
    assert {problem["field"] for problem in answer.json()["errors"]} == {"timezone", "country", "daily_cap"}
    assert web.as_("root").get("/api/v1/accounts/initech").status_code == 404


def test_only_an_operator_creates_accounts(web: WebWorld) -> None:
    assert web.as_("acme-admin").post("/api/v1/accounts", json={"name": "initech"}).status_code == 403
    assert web.as_("acme-viewer").post("/api/v1/accounts", json={"name": "initech"}).status_code == 403


def test_a_change_needs_the_current_version(web: WebWorld) -> None:
    root = web.as_("root")
    assert root.patch("/api/v1/accounts/acme", json={"sms_enabled": False}).status_code == 428
    stale = _etag(web, "acme")
    changed = root.patch("/api/v1/accounts/acme", json={"sms_enabled": False}, headers={"If-Match": stale})
    assert changed.status_code == 200
    assert changed.json()["sms_enabled"] is False
    assert changed.headers["ETag"] != stale
    again = root.patch("/api/v1/accounts/acme", json={"daily_cap": 5}, headers={"If-Match": stale})
    assert again.status_code == 412
    assert again.headers["ETag"] == changed.headers["ETag"]
    assert root.get("/api/v1/accounts/acme").json()["daily_cap"] == DEFAULT_DAILY_CAP


def test_a_change_made_by_sql_makes_the_version_stale(web: WebWorld) -> None:
    before = _etag(web, "acme")
    with web.database.session() as session:
        session.execute(text("UPDATE accounts SET country = 'DE' WHERE name = 'acme'"))
    answer = web.as_("root").patch("/api/v1/accounts/acme", json={"daily_cap": 5}, headers={"If-Match": before})
    assert answer.status_code == 412


def test_null_removes_the_cap_and_the_quiet_hours_and_absent_fields_stay(web: WebWorld) -> None:
    root = web.as_("root")
    root.patch("/api/v1/accounts/acme", json={"quiet_hours": "22:00-07:00"}, headers={"If-Match": _etag(web, "acme")})
    answer = root.patch(
        "/api/v1/accounts/acme",
        json={"daily_cap": None, "quiet_hours": None, "allowed_countries": ["pl", "de"]},
        headers={"If-Match": _etag(web, "acme")},
    )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["daily_cap"], body["quiet_hours"], body["allowed_countries"]) == (None, None, ["DE", "PL"])
    assert (body["timezone"], body["sms_enabled"]) == ("Europe/Warsaw", True)


def test_a_bad_change_names_its_fields_and_changes_nothing(web: WebWorld) -> None:
    before = web.as_("root").get("/api/v1/accounts/acme").json()
    answer = web.as_("root").patch(
        "/api/v1/accounts/acme",
        json={"daily_cap": 7, "quiet_hours": "25:00-08:00", "timezone": None},
        headers={"If-Match": _etag(web, "acme")},
    )
    assert answer.status_code == 422
    assert [problem["field"] for problem in answer.json()["errors"]] == ["timezone"]
    answer = web.as_("root").patch(
        "/api/v1/accounts/acme",
        json={"daily_cap": 7, "quiet_hours": "25:00-08:00", "country": "??"},
        headers={"If-Match": _etag(web, "acme")},
    )
    assert {problem["field"] for problem in answer.json()["errors"]} == {"quiet_hours", "country"}
    assert web.as_("root").get("/api/v1/accounts/acme").json() == before


def test_an_unknown_field_is_422(web: WebWorld) -> None:
    answer = web.as_("root").patch(
        "/api/v1/accounts/acme", json={"name": "renamed"}, headers={"If-Match": _etag(web, "acme")}
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "name"


def test_an_admin_changes_their_accounts_settings_but_not_the_service_or_countries(web: WebWorld) -> None:
    admin = web.as_("acme-admin")
    changed = admin.patch("/api/v1/accounts/acme", json={"daily_cap": 1}, headers={"If-Match": _etag(web, "acme")})
    assert changed.status_code == 200 and changed.json()["daily_cap"] == 1  # the Account page's own rule
    before = _etag(web, "acme")
    for body in ({"sms_enabled": False}, {"allowed_countries": ["PL", "DE"], "daily_cap": 7}):
        refused = admin.patch("/api/v1/accounts/acme", json=body, headers={"If-Match": before})
        assert refused.status_code == 403
        assert [problem["field"] for problem in refused.json()["errors"]] == [
            field for field in ("allowed_countries", "sms_enabled") if field in body
        ]
    assert _etag(web, "acme") == before  # nothing changed, not even the daily cap given beside it
    viewer = web.as_("acme-viewer").patch("/api/v1/accounts/acme", json={"daily_cap": 2}, headers={"If-Match": before})
    assert viewer.status_code == 403
    assert (
        admin.patch("/api/v1/accounts/globex", json={"daily_cap": 1}, headers={"If-Match": before}).status_code == 404
    )
    assert admin.delete("/api/v1/accounts/acme", headers={"If-Match": before}).status_code == 403


def test_removing_an_account_takes_its_numbers_and_users(web: WebWorld) -> None:
    root = web.as_("root")
    assert web.as_("acme-admin").post("/api/v1/accounts/acme/numbers", json={"number": "221234567"}).status_code == 201
    assert root.delete("/api/v1/accounts/acme").status_code == 428
    assert root.delete("/api/v1/accounts/acme", headers={"If-Match": '"stale"'}).status_code == 412
    assert root.delete("/api/v1/accounts/acme", headers={"If-Match": _etag(web, "acme")}).status_code == 204
    assert root.get("/api/v1/accounts/acme").status_code == 404
    with web.database.session() as session:
        assert list_numbers(session) == []
        assert {user.name for user in list_users(session)} == {"root", "globex-admin", "globex-viewer"}


def test_the_default_account_cannot_be_removed(web: WebWorld) -> None:
    answer = web.as_("root").delete("/api/v1/accounts/default", headers={"If-Match": _etag(web, "default")})
    assert answer.status_code == 409
    assert "default" in answer.json()["detail"]


def test_a_name_beyond_ascii_is_created_and_found_by_its_location(web: WebWorld) -> None:
    answer = web.as_("root").post("/api/v1/accounts", json={"name": "Łódź sp. z o.o."})
    assert answer.status_code == 201
    assert web.as_("root").get(answer.headers["Location"]).json()["name"] == "Łódź sp. z o.o."
