"""The error answers routes declare in OpenAPI (``responses=``), in the one shape of ``web.errors``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ProblemOut(BaseModel):
    field: str | None
    message: str


class ErrorOut(BaseModel):
    detail: str
    errors: list[ProblemOut] | None = None


_MEANING = {
    401: "Not logged in (no or a wrong token or session)",
    403: "The caller's role may not do this (or a browser request without its CSRF token)",
    404: "No such object in this account (also: another account's)",
    409: "Refused: it exists already, or the change would break something that depends on it",
    412: "Changed by someone else since it was read (the current version is in ETag)",
    422: "A value is not valid: errors names each field",
    428: "If-Match is required: send the ETag of the version changed",
}
# Every guarded route can answer these (the guard's own answers, and a request FastAPI cannot read).
GUARDED = (401, 403, 404, 422)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a guarded route that can also answer ``statuses``."""
    return {status: {"model": ErrorOut, "description": _MEANING[status]} for status in sorted({*GUARDED, *statuses})}
