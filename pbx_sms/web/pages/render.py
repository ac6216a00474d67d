"""Rendering a page: the Jinja2 environment of each language, and what every page's layout needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.staticfiles import StaticFiles

from pbx_sms.storage.credentials import csrf_token
from pbx_sms.storage.users import UserView
from pbx_sms.web.guard import CSRF_FORM_FIELD, SESSION_COOKIE, public
from pbx_sms.web.pages.i18n import LANGUAGES, choose_language, translations

STATIC_PATH = "/static"
HOME = "/"


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> Environment:
    """One environment per language, its catalog installed once (a shared one switched per request
    would race between threads)."""
    env = Environment(
        loader=PackageLoader("pbx_sms.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["url_part"] = url_part
    return env


def translator(language: str) -> Callable[[str], str]:
    """``_`` for strings written in pages/*.py (Babel extracts the calls of ``_``)."""
    return translations(language).gettext


def url_part(value: str) -> str:
    """A name as one path segment of a URL (a rule named "a/b" stays one segment)."""
    return quote(value, safe="")


def static_files() -> StaticFiles:
    """The stylesheet and icons, shipped in the package: nothing is loaded from another site."""
    return StaticFiles(packages=[("pbx_sms.web", "static")])


public("GET", STATIC_PATH)


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site (for ``?next=``), else None: no scheme, no host, no
    ``//host`` or ``/\\host`` that a browser would take for another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(char.isspace() or not char.isprintable() for char in target):
        return None
    return target


def local_time_formatter(language: str, timezone: str) -> Callable[[datetime | None], str]:
    """Formats a stored time (UTC) in the account's time zone, the way the language writes it."""
    zone = ZoneInfo(timezone)

    def local_time(moment: datetime | None) -> str:
        if moment is None:
            return "–"
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return format_datetime(aware, format="short", tzinfo=zone, locale=language)

    return local_time


@dataclass(frozen=True, slots=True)
class Frame:
    """What the layout shows around every page: the language, who is logged in, which account."""

    language: str
    path: str  # this page, for the language switch to come back to
    user: UserView | None = None
    account: str | None = None
    timezone: str = "UTC"
    csrf_token: str = ""


def frame_of(
    request: Request,
    user: UserView | None,
    *,
    account: str | None = None,
    account_country: str | None = None,
    timezone: str = "UTC",
) -> Frame:
    cookie = request.cookies.get(SESSION_COOKIE)
    language = choose_language(
        user.chosen_language if user is not None else request.query_params.get("lang"),
        request.headers.get("accept-language"),
        account_country,
    )
    return Frame(
        language=language,
        path=request.url.path,
        user=user,
        account=account,
        timezone=timezone,
        csrf_token=csrf_token(cookie) if cookie else "",
    )


def render(frame: Frame, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    page = environment(frame.language).get_template(template)
    html = page.render(
        frame=frame,
        csrf_field=CSRF_FORM_FIELD,
        languages=LANGUAGES,
        static=STATIC_PATH,
        local_time=local_time_formatter(frame.language, frame.timezone),
        **values,
    )
    return HTMLResponse(html, status_code=status_code)
