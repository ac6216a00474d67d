"""Browser sessions over the API: login sets the cookie, logout and idle expiry end the session on the
server, changes made with the cookie need the CSRF token (bearer tokens do not), failed logins are
throttled, a revoked token stops working."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_world import FAST_HASHER, PASSWORD, WebWorld, web_world

from pbx_sms.config.models import Settings, WebSettings
from pbx_sms.storage.api_tokens import create_token, revoke_token
from pbx_sms.web.app import create_app
from pbx_sms.web.context import WebContext
from pbx_sms.web.guard import CSRF_HEADER, SESSION_COOKIE

SESSION = "/api/v1/session"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
IDLE_S = 1800.0


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Browser:
    web: WebWorld
    clock: Clock
    client: TestClient

    def log_in(self, user: str = "acme-admin", password: str = PASSWORD) -> dict[str, Any]:
        answer = self.client.post(SESSION, json={"user": user, "password": password})
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def _browser(web: WebWorld, **web_settings: Any) -> Browser:
    clock = Clock()
    settings = Settings(database_url=web.settings.database_url, web=WebSettings(session_idle_s=IDLE_S, **web_settings))
    app = create_app(WebContext(web.database, settings, clock=clock, hasher=FAST_HASHER))
    return Browser(web, clock, TestClient(app, raise_server_exceptions=False))


@pytest.fixture
def browser(web: WebWorld) -> Browser:
    return _browser(web)


def _cookie_attributes(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}


def test_login_sets_an_httponly_lax_cookie_and_returns_the_user_and_csrf_token(browser: Browser) -> None:
    answer = browser.client.post(SESSION, json={"user": "acme-admin", "password": PASSWORD})
    assert answer.status_code == 200
    body = answer.json()
    assert body["user"] == {"name": "acme-admin", "role": "admin", "account": "acme", "language": "en"}
    assert len(body["csrf_token"]) == 64
    set_cookie = answer.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{SESSION_COOKIE}=")
    assert {"httponly", "path", "samesite", "max-age"} <= _cookie_attributes(set_cookie)
    assert "secure" not in _cookie_attributes(set_cookie)
    assert "samesite=lax" in set_cookie.lower()
    assert browser.client.get("/api/v1/me").json()["name"] == "acme-admin"
    assert browser.client.get(SESSION).json() == body


def test_behind_https_the_cookie_is_secure(web: WebWorld) -> None:
    answer = _browser(web, cookie_secure=True).client.post(SESSION, json={"user": "root", "password": PASSWORD})
    assert "secure" in _cookie_attributes(answer.headers["Set-Cookie"])


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(browser: Browser) -> None:
    wrong = browser.client.post(SESSION, json={"user": "acme-admin", "password": "not it"})
    unknown = browser.client.post(SESSION, json={"user": "nobody", "password": "not it"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong user name or password"}
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers


def test_a_login_in_a_form_post_from_another_site_is_not_read(browser: Browser) -> None:
    # A cross-site HTML form can send text/plain without a CORS preflight: it must not log anyone in.
    answer = browser.client.post(
        SESSION,
        content=b'{"user": "acme-admin", "password": "correct horse battery"}',
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 422
    assert "set-cookie" not in answer.headers


def test_a_change_with_the_cookie_needs_the_csrf_token(browser: Browser) -> None:
    csrf = browser.log_in()["csrf_token"]
    refused = browser.client.delete(SESSION)
    assert refused.status_code == 403 and CSRF_HEADER in refused.json()["detail"]
    assert browser.client.delete(SESSION, headers={CSRF_HEADER: "0" * 64}).status_code == 403
    assert browser.client.delete(SESSION, headers={CSRF_HEADER: csrf}).status_code == 204


def test_logout_ends_the_session_on_the_server(browser: Browser) -> None:
    csrf = browser.log_in()["csrf_token"]
    cookie = browser.client.cookies[SESSION_COOKIE]
    answer = browser.client.delete(SESSION, headers={CSRF_HEADER: csrf})
    assert answer.status_code == 204
    assert (
        f'{SESSION_COOKIE}=""' in answer.headers["Set-Cookie"] and "max-age=0" in answer.headers["Set-Cookie"].lower()
    )
    # A copy of the cookie kept by someone (or a browser that ignored the clearing) no longer works.
    browser.client.cookies.set(SESSION_COOKIE, cookie)
    assert browser.client.get("/api/v1/me").status_code == 401
    assert browser.client.get(SESSION).status_code == 401


def test_a_new_login_ends_the_browser_s_previous_session(browser: Browser) -> None:
    browser.log_in()
    first = browser.client.cookies[SESSION_COOKIE]
    browser.log_in("acme-viewer")
    assert browser.client.get("/api/v1/me").json()["name"] == "acme-viewer"
    browser.client.cookies.set(SESSION_COOKIE, first)
    assert browser.client.get("/api/v1/me").status_code == 401


def test_an_idle_session_ends(browser: Browser) -> None:
    browser.log_in()
    browser.clock.advance(IDLE_S - 60)
    assert browser.client.get("/api/v1/me").status_code == 200  # a request: the idle time starts again
    browser.clock.advance(IDLE_S - 60)
    assert browser.client.get("/api/v1/me").status_code == 200
    browser.clock.advance(IDLE_S)
    assert browser.client.get("/api/v1/me").status_code == 401


def test_bearer_token_calls_need_no_csrf_token(web: WebWorld) -> None:
    client = web.as_("acme-admin")
    assert client.get(SESSION).json()["csrf_token"] is None
    # Judged by the token: not refused for a missing CSRF token, only because there is no session to end.
    answer = client.delete(SESSION)
    assert answer.status_code == 400 and "no browser session" in answer.json()["detail"]


def test_five_failures_for_a_user_then_429_with_retry_after_even_for_the_right_password(
    browser: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for attempt in range(5):
        answer = browser.client.post(SESSION, json={"user": "acme-admin", "password": f"guess-Nr{attempt}-x"})
        assert answer.status_code == 401
        browser.clock.advance(1)
    throttled = browser.client.post(SESSION, json={"user": "acme-admin", "password": PASSWORD})
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "55"
    assert "55 s" in throttled.json()["detail"]
    logged = "\n".join(record.getMessage() + str(vars(record)) for record in caplog.records)
    assert "login failed for user 'acme-admin'" in logged
    assert "guess-Nr" not in logged and PASSWORD not in logged
    browser.clock.advance(55)
    assert browser.client.post(SESSION, json={"user": "acme-admin", "password": PASSWORD}).status_code == 200


def test_five_failures_from_one_address_throttle_every_user_name_from_it(browser: Browser) -> None:
    for attempt in range(5):
        browser.client.post(SESSION, json={"user": f"guess-{attempt}", "password": "x"})
    answer = browser.client.post(SESSION, json={"user": "globex-admin", "password": PASSWORD})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0


def test_a_revoked_token_is_401_at_once(web: WebWorld) -> None:
    with web.database.write_session() as session:
        view, token = create_token(session, "acme-viewer", datetime.now(UTC))
    client = TestClient(web.client.app, headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/v1/me").status_code == 200
    with web.database.write_session() as session:
        revoke_token(session, view.id, datetime.now(UTC))
    assert client.get("/api/v1/me").status_code == 401


def test_the_log_line_of_a_login_names_the_user(browser: Browser, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    browser.log_in("globex-viewer")
    (line,) = [record for record in caplog.records if record.name == "pbx_sms.web.requests"]
    assert line.getMessage().startswith("POST /api/v1/session 200 globex-viewer ")
