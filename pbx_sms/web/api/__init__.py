"""The REST API under /api/v1: one module per resource, each route guarded (``pbx_sms.web.guard``).

Every router documents the error answers of its guard and of validation with
``APIRouter(..., responses=ERROR_RESPONSES)``; a route that can also answer e.g. 409, 412 or 428 adds
them with ``responses=error_responses(409, 412, 428)``. A status a route can answer and its schema does
not list fails the schemathesis test (tests/integration/web/test_schemathesis.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

V1 = "/api/v1"


class ProblemBody(BaseModel):
    field: str | None = Field(description='Where: a field path as in the rule file\'s messages ("when.status[0]")')
    message: str = Field(description="What was expected there")


class ErrorBody(BaseModel):
    """The one shape of every error answer (``pbx_sms.web.errors.error_response``)."""

    detail: str = Field(description="What went wrong, and what to do about it")
    errors: list[ProblemBody] = Field(default_factory=list, description="On 422: one entry per problem")


# What each error status means in this API.
ERROR_MEANINGS: dict[int, str] = {
    400: "The request cannot be read (e.g. a form body that is not well formed)",
    401: "No valid credentials: log in, or send Authorization: Bearer TOKEN",
    403: "The caller's role may not do this, or a browser request came without its CSRF token",
    404: "No such object in this account (another account's objects are not found either)",
    409: "The change conflicts with what is stored (already exists, or still in use)",
    412: "If-Match names an older version: the current one is in the ETag header",
    413: "The request body is over the size limit",
    422: "The request is not valid: errors lists each problem and where it is",
    428: "An edit needs If-Match with the version (ETag) it was made from",
    429: "Too many attempts: wait for Retry-After seconds",
}
# What every guarded route can answer: the guard's 401, 403 and 404, and 422 for a request it cannot take.
GUARD_STATUSES = (401, 403, 404, 422)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each with the error body's schema."""
    return {status: {"model": ErrorBody, "description": ERROR_MEANINGS[status]} for status in statuses}


# The routers' ``responses=``; with 400 for a form body that cannot be read (the guard reads a browser
# form for its CSRF token).
ERROR_RESPONSES = error_responses(400, *GUARD_STATUSES)
