"""schemathesis against the app's own OpenAPI schema, once per role with that role's token, on a seeded database.

Each role gets its own seeded database for all operations (what one role's run writes does not leak
into the next) and its token on every request: without credentials every operation would only meet
401s. Requests go to the app in process (ASGI, no socket, no network). Checks: no 5xx, every status
code documented, and every response's content type, headers and body as the schema says (the error
statuses come from ``pbx_sms.web.api.ERROR_RESPONSES``).

Bounded: the examples and coverage phases (each parameter's valid edge values) and up to
``MAX_EXAMPLES`` fuzzed cases per operation, valid and invalid; no stateful phase, no shrinking, no
example database, a fixed seed. Path parameters often take the seed's values (``known_values``), so
success answers are checked, not only 404s. Measured with the routes of the other branches of this
round merged in (38 operations, 114 tests): 1 min 40 s on this 2-core machine at load 7 to 11
(31 s of CPU). SQLite only: this tests the API against its schema; the storage on both databases is
the access matrix's and the storage tests' part.

The schema is the one the app serves at /api/openapi.json, taken at import from an app over no
database (``route_table_app().openapi()``: no request, no lifespan), so pytest has one test per
operation and role; each request goes to the role's seeded app (``app=``). schemathesis's
``from_fixture`` would read it from the seeded app instead, but does not run on pytest 9.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web_seed import known_values, seeded_world
from web_world import route_table_app

ROLES = ("root", "acme-admin", "acme-viewer")
MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# How often a path parameter takes a value the seed has (else whatever schemathesis makes up): often
# enough that success answers are checked too, not only 404s.
SEEDED_VALUE_PROBABILITY = 0.6
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 15,  # the same cases on every run: a failure here is reproducible, never a fluke
        "phases": {
            "stateful": {"enabled": False},
            # The coverage phase's valid edge cases; invalid data comes from the fuzzing phase (its hundreds
            # of wrongly typed body fields per operation would take most of the time, to test one 422 path).
            # Methods a path does not have (405) are the route table's business (the access matrix).
            "coverage": {"generation": {"mode": "positive"}, "unexpected-methods": []},
        },
        "generation": {"max-examples": MAX_EXAMPLES, "no-shrink": True, "database": "none"},
        "dictionaries": {name: {"values": values} for name, values in known_values().items()},
        "parameters": {
            f"path.{name}": {"dictionary": name, "probability": SEEDED_VALUE_PROBABILITY} for name in known_values()
        },
    }
)
schema = schemathesis.openapi.from_dict(route_table_app().openapi(), config=CONFIG)


@schemathesis.deserializer("application/yaml", "application/x-yaml", "text/yaml")
def yaml_as_its_text(_context: schemathesis.DeserializationContext, response: schemathesis.Response) -> str:
    """A YAML answer (a rule file) is documented as a string, its text: compare the text, not what a
    YAML parser makes of it (schemathesis would parse it and find an object where a string is due)."""
    return response.text


@dataclass(frozen=True, slots=True)
class Caller:
    app: FastAPI
    headers: dict[str, str]
    path_values: list[dict[str, str]]


@pytest.fixture(scope="module", params=ROLES)
def caller(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caller]:
    directory: Path = tmp_path_factory.mktemp("schemathesis")
    for seeded in seeded_world(f"sqlite:///{directory / 'pbx-sms.db'}"):
        app = seeded.world.client.app
        assert isinstance(app, FastAPI)
        headers = {"Authorization": f"Bearer {seeded.world.tokens[request.param]}"}
        seed = seeded.seed
        yield Caller(app, headers, [copy.path_values for copy in seed.copies.values()] + [seed.global_values()])


def test_the_values_schemathesis_is_given_are_the_seeds(caller: Caller) -> None:
    known = known_values()
    for values in caller.path_values:
        assert all(value in known[name] for name, value in values.items()), values


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_api_answers_as_its_schema_says(case: schemathesis.Case[Any], caller: Caller) -> None:
    case.call_and_validate(app=caller.app, headers=caller.headers, checks=CHECKS)
