"""Errors the storage layer reports to admins: each message says what is wrong and where."""

from __future__ import annotations

from collections.abc import Sequence


class StorageError(Exception):
    """A user error against the configuration database (unknown name, refused change, ...)."""


class NotFound(StorageError):
    pass


class AlreadyExists(StorageError):
    pass


class Refused(StorageError):
    """The change would break a rule or the integrity rules (e.g. removing a number a rule uses)."""


class InvalidValue(StorageError):
    """A value that cannot be stored; ``field`` names it where the caller gave named fields (an API
    body's ``daily_cap``), so the answer can point at it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidValues(InvalidValue):
    """Several values of one change are wrong: each problem names its field (nothing is stored)."""

    def __init__(self, problems: Sequence[InvalidValue]) -> None:
        super().__init__(
            "; ".join(f"{problem.field}: {problem}" if problem.field else str(problem) for problem in problems)
        )
        self.problems = tuple(problems)
