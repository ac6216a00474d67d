"""What every answer of `pbx-sms web` carries and every request leaves in the log: security headers,
a request id, one log line without secrets, a 500 without details, 413 over the body limit, CORS off
unless configured."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from web_world import WebWorld, web_world

from pbx_sms.config.models import Settings, WebSettings
from pbx_sms.core.access import Access, Resource
from pbx_sms.logs import JsonFormatter, TextFormatter
from pbx_sms.web.app import create_app
from pbx_sms.web.context import WebContext
from pbx_sms.web.guard import Guard, Scope, context_of
from pbx_sms.web.middleware_headers import CONTENT_SECURITY_POLICY

REQUEST_LOG = "pbx_sms.web.requests"
FAILURE = "the database said: password=hunter2 at row 7"
SQL_SECRET = "param-Secret-77"


@pytest.fixture
def web(database_url: str) -> Iterator[WebWorld]:
    yield from web_world(database_url)


def _with_test_routes(app: FastAPI) -> FastAPI:
    """Routes only these tests have: one that fails, one that reads a JSON body, one a form."""

    def fail() -> None:
        raise RuntimeError(FAILURE)

    def fail_in_sql(request: Request) -> None:
        # A real statement through the app's own database (a table that does not exist: no driver puts
        # the values in that message), so what hides the values is the engine's own setting.
        values = {"secret": SQL_SECRET}  # not on the raising line: a traceback shows that line's source
        try:
            with context_of(request).database.session() as session:
                session.execute(text("INSERT INTO missing_table (secret) VALUES (:secret)"), values)
        except DBAPIError as error:
            raise RuntimeError("could not add the row") from error

    def echo(payload: dict[str, Any]) -> dict[str, Any]:
        return {"keys": sorted(payload)}

    async def form(request: Request, _scope: Annotated[Scope, Depends(Guard(Resource.SELF, Access.WRITE))]) -> Any:
        return {"fields": sorted((await request.form()).keys())}

    app.add_api_route("/api/v1/test/fail", fail, methods=["GET"])
    app.add_api_route("/api/v1/test/fail-in-sql", fail_in_sql, methods=["GET"])
    app.add_api_route("/api/v1/test/echo", echo, methods=["POST"])
    app.add_api_route("/api/v1/test/form", form, methods=["POST"])
    return app


def _client(web: WebWorld, **web_settings: Any) -> TestClient:
    settings = Settings(database_url=web.settings.database_url, web=WebSettings(**web_settings))
    return TestClient(_with_test_routes(create_app(WebContext(web.database, settings))), raise_server_exceptions=False)


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record the server side wrote, as both formatters write it (message, extra fields, traceback);
    not the test's own HTTP client's (httpx logs the URL it requested)."""
    return "\n".join(
        JsonFormatter().format(record) + TextFormatter().format(record)
        for record in caplog.records
        if record.name != "httpx"
    )


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == REQUEST_LOG and record.levelno == logging.INFO]


# --- headers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/me", 401),
        ("GET", "/api/openapi.json", 200),
        ("GET", "/no/such/page", 404),
        ("GET", "/api/v1/test/fail", 500),
        ("POST", "/api/v1/test/echo", 413),
    ],
)
def test_every_answer_carries_the_security_headers(web: WebWorld, method: str, path: str, status: int) -> None:
    client = _client(web, max_body_bytes=10)
    answer = client.request(method, path, content=b'{"a": "0123456789"}' if method == "POST" else None)
    assert answer.status_code == status
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert len(answer.headers["X-Request-Id"]) == 16
    assert (answer.headers.get("Cache-Control") == "no-store") is path.startswith("/api/")


def test_each_request_has_its_own_id(web: WebWorld) -> None:
    ids = {web.client.get("/api/v1/me").headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


# --- the log line ----------------------------------------------------------------------------------


def test_one_line_per_request_names_method_path_status_user_duration_id(
    web: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = web.as_("acme-viewer").get("/api/v1/me?verbose=1")
    (line,) = _request_lines(caplog)
    assert line.getMessage().startswith("GET /api/v1/me 200 acme-viewer ")
    fields = vars(line)
    assert {key: fields[key] for key in ("method", "path", "status", "user", "request_id")} == {
        "method": "GET",
        "path": "/api/v1/me",
        "status": 200,
        "user": "acme-viewer",
        "request_id": answer.headers["X-Request-Id"],
    }
    assert isinstance(fields["duration_ms"], float) and fields["duration_ms"] >= 0


def test_no_token_cookie_password_or_query_reaches_the_log(web: WebWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = web.tokens["acme-admin"]
    answer = _client(web).post(
        "/api/v1/test/form?access_token=query-Secret-5e1f",
        headers={"Authorization": f"Bearer {token}", "Cookie": "pbx_sms_session=cookie-Secret-0b7d"},
        data={"password": "form-Secret-93ac", "csrf_token": "csrf-Secret-11aa"},
    )
    assert answer.status_code == 200 and answer.json() == {"fields": ["csrf_token", "password"]}
    (line,) = _request_lines(caplog)
    assert line.getMessage().startswith("POST /api/v1/test/form 200 acme-admin ")
    logged = _logged(caplog)
    for secret in (token, "query-Secret-5e1f", "cookie-Secret-0b7d", "form-Secret-93ac", "csrf-Secret-11aa"):
        assert secret not in logged


def test_a_long_path_is_cut_in_the_log(web: WebWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    web.client.get("/" + "x" * 5000)
    (line,) = _request_lines(caplog)
    assert len(line.getMessage()) < 300


# --- errors ------------------------------------------------------------------------------------------


def test_an_unhandled_error_is_a_500_with_the_request_id_and_its_traceback_only_in_the_log(
    web: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = _client(web).get("/api/v1/test/fail")
    request_id = answer.headers["X-Request-Id"]
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error", "request_id": request_id}
    assert "hunter2" not in answer.text and "Traceback" not in answer.text
    (failure,) = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert failure.exc_info is not None and FAILURE in _logged(caplog)
    assert request_id in failure.getMessage()
    (line,) = _request_lines(caplog)
    assert line.getMessage().startswith("GET /api/v1/test/fail 500 - ")


def test_a_failed_statement_s_parameters_stay_out_of_the_logged_traceback(
    web: WebWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert _client(web).get("/api/v1/test/fail-in-sql").status_code == 500
    logged = _logged(caplog)
    assert "INSERT INTO missing_table" in logged and "sqlalchemy.exc." in logged  # the traceback is there...
    assert SQL_SECRET not in logged  # ...without the statement's values


def test_a_declared_body_over_the_limit_is_413_before_the_route_reads_it(web: WebWorld) -> None:
    client = _client(web, max_body_bytes=100)
    assert client.post("/api/v1/test/echo", json={"a": "x" * 50}).json() == {"keys": ["a"]}
    answer = client.post("/api/v1/test/echo", json={"a": "x" * 100})
    assert answer.status_code == 413
    assert answer.json() == {"detail": "request body too large: at most 100 bytes (PBX_SMS_WEB_MAX_BODY_BYTES)"}


def test_a_chunked_body_is_counted_as_it_arrives(web: WebWorld) -> None:
    client = _client(web, max_body_bytes=100)

    def chunks(count: int) -> Iterator[bytes]:
        yield b'{"a": "'
        for _ in range(count):
            yield b"x" * 10
        yield b'"}'

    small = client.post("/api/v1/test/echo", content=chunks(5), headers={"Content-Type": "application/json"})
    assert small.request.headers.get("Content-Length") is None
    assert small.json() == {"keys": ["a"]}
    large = client.post("/api/v1/test/echo", content=chunks(20), headers={"Content-Type": "application/json"})
    assert large.status_code == 413
    assert "at most 100 bytes" in large.json()["detail"]


# --- CORS --------------------------------------------------------------------------------------------

PREFLIGHT = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "Authorization"}


def test_cors_is_off_unless_configured(web: WebWorld) -> None:
    origin = {"Origin": "https://panel.example.com"}
    preflight = web.client.options("/api/v1/me", headers=origin | PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in web.as_("root").get("/api/v1/me", headers=origin).headers


def test_cors_allows_exactly_the_configured_origins(web: WebWorld) -> None:
    client = _client(web, cors_origins=("https://panel.example.com",))
    client.headers["Authorization"] = f"Bearer {web.tokens['root']}"
    allowed = client.options("/api/v1/me", headers={"Origin": "https://panel.example.com"} | PREFLIGHT)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://panel.example.com"
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    answer = client.get("/api/v1/me", headers={"Origin": "https://panel.example.com"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://panel.example.com"
    assert "X-Request-Id" in answer.headers["Access-Control-Expose-Headers"]
    other = client.options("/api/v1/me", headers={"Origin": "https://evil.example.com"} | PREFLIGHT)
    assert other.status_code == 400 and "Access-Control-Allow-Origin" not in other.headers
    assert (
        "Access-Control-Allow-Origin"
        not in client.get("/api/v1/me", headers={"Origin": "https://evil.example.com"}).headers
    )


def test_an_origin_setting_must_be_an_origin() -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        WebSettings(cors_origins="https://panel.example.com/app")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is not an origin"):
        WebSettings(cors_origins=("*",))
