"""The panel's languages: which one a request gets, and the gettext catalogs behind them.

The catalogs are the ``.po`` files in ``pbx_sms/web/locale``, read at first use (``read_po``) rather than
``.mo`` files compiled at build time: setuptools compiles nothing, so a plain ``pip install`` of the
sources, a wheel and an editable install all work the same, with no build hook to keep in step. The
two catalogs are small; reading them costs milliseconds once per process.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from io import BytesIO
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES: Final = ("pl", "en")
POLISH, ENGLISH = LANGUAGES
DOMAIN = "messages"


def po_path(language: str) -> str:
    """Where a language's catalog is inside the package (also read by the catalog test)."""
    return f"locale/{language}/LC_MESSAGES/{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> Translations:
    """The catalog of one of LANGUAGES, as gettext translations (fuzzy entries are not used)."""
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    source = files("pbx_sms.web").joinpath(po_path(language))
    with source.open("rb") as stream:
        catalog = read_po(stream, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def accepted_language(accept_language: str | None) -> str | None:
    """The first of LANGUAGES an ``Accept-Language`` header names, by its q-values; None if it names none.

    ``pl-PL,pl;q=0.9,en;q=0.8`` → ``pl``; ``de,en;q=0.5`` → ``en``; ``de`` → None. ``q=0`` means "not this".
    """
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def choose_language(user_language: str | None, accept_language: str | None, account_country: str | None) -> str:
    """The user's setting, else the browser's Accept-Language when it names pl or en, else Polish for an
    account in PL, else English."""
    if user_language is not None and user_language in LANGUAGES:
        return user_language
    browser = accepted_language(accept_language)
    if browser is not None:
        return browser
    return POLISH if (account_country or "").upper() == "PL" else ENGLISH
