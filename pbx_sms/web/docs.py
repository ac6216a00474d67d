"""``/api/docs``: Swagger UI over ``/api/openapi.json``, its JS and CSS served by the package itself
(swagger-ui-bundle): a PBX often has no internet, and FastAPI's default page loads them from a CDN.

The page starts Swagger UI with one inline script. Rather than allowing inline scripts, its
Content-Security-Policy allows that one script by its SHA-256 (computed from the page, so it follows
any change to it); images may also be ``data:`` URLs, which Swagger UI's stylesheet uses for icons.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from pbx_sms.web.guard import public

DOCS_PATH = "/api/docs"
ASSETS_PATH = "/api/docs/assets"
# Only what the page loads (the bundle also holds a demo page that would fetch the petstore example).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
# The files change only with the package: a day in the browser's cache saves reloading 1 MB.
ASSET_CACHE_CONTROL = "public, max-age=86400"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_page(openapi_url: str) -> bytes:
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title="pbx-sms API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        # No badge fetched from the online validator.
        swagger_ui_parameters={"validatorUrl": None},
    )
    return bytes(page.body)


def docs_policy(page: bytes) -> str:
    """The page's Content-Security-Policy: the server's own files, plus its inline scripts by hash."""
    hashes = " ".join(_script_hash(script) for script in _INLINE_SCRIPT.findall(page.decode("utf-8")))
    return (
        f"default-src 'self'; script-src 'self' {hashes}; img-src 'self' data:; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
    )


def _script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def install_docs(app: FastAPI, openapi_url: str) -> None:
    page = docs_page(openapi_url)
    policy = docs_policy(page)

    @app.get(DOCS_PATH, include_in_schema=False)
    def read_docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    public("GET", DOCS_PATH)
    public("GET", openapi_url)
    directory = Path(str(swagger_ui_path))
    for name, media_type in ASSETS.items():
        app.add_api_route(f"{ASSETS_PATH}/{name}", _asset_route(directory / name, media_type), include_in_schema=False)
        public("GET", f"{ASSETS_PATH}/{name}")


def _asset_route(path: Path, media_type: str) -> Callable[[], FileResponse]:
    def read_asset() -> FileResponse:
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": ASSET_CACHE_CONTROL})

    return read_asset
