"""``/api/docs``: Swagger UI from the package's own files (no CDN), public, under a CSP that allows its
one inline script by hash rather than every inline script."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_world import WebWorld, web_world

from pbx_sms.web.guard import PUBLIC_ROUTES
from pbx_sms.web.middleware_headers import CONTENT_SECURITY_POLICY


@pytest.fixture
def web(tmp_path: Path) -> Iterator[WebWorld]:
    # No database work here: SQLite is enough.
    yield from web_world(f"sqlite:///{tmp_path / 'pbx-sms.db'}")


def _references(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', page) + re.findall(r"url: '([^']*)'", page)


def test_the_docs_page_loads_only_local_files_and_they_answer(web: WebWorld) -> None:
    page = web.client.get("/api/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "://" not in page.text  # no CDN, no online validator badge
    references = _references(page.text)
    assert sorted(references) == [
        "/api/docs/assets/favicon-32x32.png",
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
        "/api/openapi.json",
    ]
    types = {"js": "text/javascript", "css": "text/css", "png": "image/png", "json": "application/json"}
    for reference in references:
        answer = web.client.get(reference)
        assert answer.status_code == 200, reference
        assert answer.headers["Content-Type"].startswith(types[reference.rsplit(".", 1)[1]]), reference
        assert len(answer.content) > 500, reference
    assert web.client.get("/api/docs/assets/index.html").status_code == 404  # the bundle's demo page is not served


def test_the_docs_policy_allows_exactly_its_inline_script(web: WebWorld) -> None:
    page = web.client.get("/api/docs")
    policy = page.headers["Content-Security-Policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    # Every other answer keeps the strict policy.
    assert web.client.get("/api/openapi.json").headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_docs_and_the_schema_are_public(web: WebWorld) -> None:
    assert {("GET", "/api/docs"), ("GET", "/api/openapi.json")} <= PUBLIC_ROUTES
    schema = web.client.get("/api/openapi.json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    assert "/api/docs" not in schema.json()["paths"]
