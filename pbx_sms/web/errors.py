"""The one shape of every error answer of the API, and the handlers that produce it.

``{"detail": "what went wrong", "errors": [{"field": "when.status[0]", "message": "expected ..."}]}``:
``errors`` only on 422, one entry per problem, ``field`` a path as in the rule file's messages (None
when the problem is the whole body). Storage errors map here once: NotFound 404, AlreadyExists and
Refused 409, InvalidValue 422.

A page (a path outside /api and ``MACHINE_PATHS``) that needs a login redirects to the login page
instead of answering 401; any other error of a page (403, 404, a CSRF failure, 409, 422 ...) is a
translated HTML page drawn by the renderer the app installs (``pages/error_page.py``: this module sits
below the pages and cannot import them). The API and ``MACHINE_PATHS`` keep answering JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from pbx_sms.storage.errors import AlreadyExists, InvalidValue, InvalidValues, NotFound, Refused, StorageError

log = logging.getLogger(__name__)

API_PREFIX = "/api"
LOGIN_PAGE = "/login"
METRICS_PATH = "/metrics"
# Paths outside /api that machines call (Prometheus): answered like the API, never redirected to a login.
MACHINE_PATHS = frozenset({METRICS_PATH})


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str | None
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


class ApiError(Exception):
    """An answer other than 2xx, raised anywhere below a route; ``headers`` e.g. Retry-After, ETag."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problems: Sequence[FieldProblem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = tuple(problems)
        self.headers = headers or {}


class CsrfRefused(ApiError):
    """A browser session's change without its page's CSRF token: 403 (a page says "reload the page")."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


# Draws the HTML page of an error on a page route (installed by the app; None: JSON everywhere).
PageErrorRenderer = Callable[[Request, ApiError], Response]
PAGE_ERROR_STATE = "page_error"


class NotAuthenticated(ApiError):
    def __init__(self) -> None:
        super().__init__(401, "log in, or send Authorization: Bearer TOKEN", headers={"WWW-Authenticate": "Bearer"})


def field_path(location: Sequence[str | int]) -> str | None:
    """("body", "when", "status", 0) → "when.status[0]": the path as rule-file messages write it."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or None


def error_response(error: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"detail": error.detail}
    if error.problems or error.status == 422:
        body["errors"] = [problem.as_json() for problem in error.problems]
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def storage_error(exc: StorageError) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError(404, str(exc))
    if isinstance(exc, AlreadyExists | Refused):
        return ApiError(409, str(exc))
    if isinstance(exc, InvalidValues):
        problems = [FieldProblem(problem.field, str(problem)) for problem in exc.problems]
        return ApiError(422, "the request is not valid: see errors", problems=problems)
    if isinstance(exc, InvalidValue):
        return ApiError(422, str(exc), problems=[FieldProblem(exc.field, str(exc))])
    return ApiError(400, str(exc))


def is_page_path(path: str) -> bool:
    """Whether ``path`` is the panel's (HTML errors, a login redirect) rather than the API's or a machine's."""
    return not path.startswith(API_PREFIX) and path not in MACHINE_PATHS


def _is_page(request: Request) -> bool:
    return is_page_path(request.url.path)


def _answer(request: Request, error: ApiError) -> Response:
    """JSON for the API; for a page, the installed renderer's HTML page (JSON when none is installed)."""
    renderer: PageErrorRenderer | None = getattr(request.app.state, PAGE_ERROR_STATE, None)
    if renderer is not None and _is_page(request):
        return renderer(request, error)
    return error_response(error)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if isinstance(exc, NotAuthenticated) and _is_page(request) and request.method == "GET":
        return RedirectResponse(f"{LOGIN_PAGE}?next={quote(request.url.path)}", status_code=303)
    return _answer(request, exc)


async def _on_storage_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StorageError)
    return _answer(request, storage_error(exc))


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        FieldProblem(field_path([part for part in error["loc"] if part not in ("body", "query", "path")]), error["msg"])
        for error in exc.errors()
    ]
    return _answer(request, ApiError(422, "the request is not valid: see errors", problems=problems))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such path, method not allowed), in the same shape as ours."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    return _answer(request, ApiError(exc.status_code, str(exc.detail), headers=headers))


def install_error_handlers(app: FastAPI, page_error: PageErrorRenderer | None = None) -> None:
    setattr(app.state, PAGE_ERROR_STATE, page_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StorageError, _on_storage_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
