"""`pbx-sms web`: the REST API (and, later, the panel's pages) on uvicorn, over the configuration database."""

from __future__ import annotations

from typing import Annotated

import typer

from pbx_sms.cli.context import fail, state
from pbx_sms.cli.db import opened_database


def web(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Listen on this address (default: $PBX_SMS_WEB_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Listen on this port (default: $PBX_SMS_WEB_PORT, 8080)."),
    ] = None,
) -> None:
    """Serve the web API until SIGTERM/SIGINT (requests in flight are finished first)."""
    from pbx_sms.logs import setup_logging
    from pbx_sms.web.context import WebContext
    from pbx_sms.web.server import ListenError, serve

    settings = state(ctx).settings()
    try:
        setup_logging(settings.logging.format, settings.logging.level)
    except ValueError:
        fail(f"PBX_SMS_LOG_LEVEL: unknown level {settings.logging.level!r} (expected DEBUG, INFO, WARNING or ERROR)")
    with opened_database(ctx) as database:
        try:
            serve(WebContext(database, settings), host or settings.web.host, port or settings.web.port)
        except ListenError as exc:
            fail(str(exc))
