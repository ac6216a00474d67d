"""The HTML page of a page route's error (403, 404, a CSRF failure, 409, 422 ...), in the reader's language.

Installed into ``web/errors.py`` by the app: the API keeps its JSON, a browser gets a page it can read
and a way back. The storage's own message (English) is shown only where it tells the reader what to
correct (409, 422); a 403 or 404 says no more than the API does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fastapi import Request
from fastapi.responses import Response

from pbx_sms.web.errors import ApiError, CsrfRefused
from pbx_sms.web.guard import caller_of
from pbx_sms.web.pages.messages import translated_problem
from pbx_sms.web.pages.render import HOME, frame_of, render, translator

# Headers of the API's answer that a page must not carry (a browser would ask for a bearer token).
DROPPED_HEADERS = frozenset({"www-authenticate"})


def explanation_of(error: ApiError, _: Callable[[str], str]) -> tuple[str, str]:
    """(title, sentence) of the error page."""
    if isinstance(error, CsrfRefused):
        return _("The form has expired"), _("Go back, reload the page and send the form again.")
    if error.status == 401:
        return _("Please log in"), _("Your session has ended. Log in and try again.")
    if error.status == 403:
        return _("Not allowed"), _("Your role does not allow this.")
    if error.status == 404:
        return _("Not found"), _("This page does not exist, or it is not yours to see.")
    if error.status == 409:
        return _("Not done"), _("This cannot be done now:")
    if error.status == 422:
        return _("Not valid"), _("The form was not valid:")
    if error.status == 429:
        return _("Too many requests"), _("Wait a moment and try again.")
    return _("Something went wrong"), _("The request could not be handled.")


def error_page(request: Request, error: ApiError) -> Response:
    # The language links lead to the start page: not to a form's POST-only path, and the page does not
    # echo a path it refused (another account's rule name in a link, say).
    # A logged-in reader keeps the menu of their own account (never the refused one, which may be another's).
    caller = caller_of(request)
    user = caller.user if caller is not None and caller.by_session else None
    frame = replace(frame_of(request, user, account=None if user is None else user.account), path=HOME)
    _ = translator(frame.language)
    title, sentence = explanation_of(error, _)
    detail = translated_problem(error.detail, _) if error.status in (409, 422) else None
    problems = [
        replace(problem, message=translated_problem(problem.message, _))
        for problem in error.problems
        if error.status == 422
    ]
    page = render(
        frame,
        "error.html",
        error.status,
        status=error.status,
        title=title,
        sentence=sentence,
        detail=detail,
        problems=problems,
    )
    page.headers.update({name: value for name, value in error.headers.items() if name.lower() not in DROPPED_HEADERS})
    return page
