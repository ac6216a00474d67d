"""How an invalid setting is reported: its source and what was expected, never its value.

One wording for the settings here and for every gateway's (the registry uses it too).
"""

from __future__ import annotations

from pydantic_core import ErrorDetails


class ConfigError(Exception):
    """Invalid configuration; the message names the source and the key, never a secret."""


_EXPECTED = {
    "missing": "required",
    "extra_forbidden": "unknown setting",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "greater_than": "expected more than {gt}",
    "greater_than_equal": "expected at least {ge}",
    "less_than": "expected less than {lt}",
    "less_than_equal": "expected at most {le}",
}


def describe_error(error: ErrorDetails) -> str:
    """What one pydantic error expected, in words that never include the input."""
    template = _EXPECTED.get(error["type"])
    if template is not None:
        limits = {
            key: f"{value:g}" if isinstance(value, float) else value for key, value in error.get("ctx", {}).items()
        }
        return template.format(**limits)
    return error["msg"].removeprefix("Value error, ")
