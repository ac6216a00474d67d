"""The session cookie, set and cleared in one place: HttpOnly (no script reads it), SameSite=Lax (not
sent on another site's form post), Secure when PBX_SMS_WEB_COOKIE_SECURE=true (behind HTTPS)."""

from __future__ import annotations

from fastapi import Response

from pbx_sms.web.context import WebContext
from pbx_sms.web.guard import SESSION_COOKIE


def set_session_cookie(response: Response, context: WebContext, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(context.settings.web.session_max_s),
        path="/",
        httponly=True,
        samesite="lax",
        secure=context.settings.web.cookie_secure,
    )


def clear_session_cookie(response: Response, context: WebContext) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=context.settings.web.cookie_secure
    )
