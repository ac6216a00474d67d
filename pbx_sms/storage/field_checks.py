"""Checking every field of one change before storing any: one answer names each wrong field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from pbx_sms.storage.errors import InvalidValue, InvalidValues

In = TypeVar("In")
Out = TypeVar("Out")


class FieldChecks:
    """Runs the checks of a change's fields and collects their problems, each named by its field.

    ``done()`` raises them (one ``InvalidValue`` with its message unchanged, or ``InvalidValues``) and
    must come before any checked value is used: a failed check's value is only a placeholder.
    """

    def __init__(self) -> None:
        self._problems: list[InvalidValue] = []

    def check(self, field: str, check: Callable[[In], Out], value: In) -> Out:
        try:
            return check(value)
        except InvalidValue as exc:
            self._problems.append(InvalidValue(str(exc), field=field))
            return cast(Out, None)  # never used: done() raises first

    def done(self) -> None:
        if len(self._problems) == 1:
            raise self._problems[0]
        if self._problems:
            raise InvalidValues(self._problems)


def checked(field: str | None, check: Callable[[In], Out], value: In) -> Out:
    """``check(value)``, its problem (if any) named by ``field`` (None: the caller has no field names)."""
    try:
        return check(value)
    except InvalidValue as exc:
        raise InvalidValue(str(exc), field=field or exc.field) from None
