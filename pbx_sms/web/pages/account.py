"""The account page (``/accounts/{account}/settings``): the SMS service switch, the account's settings,
and its numbers, sender IDs and opt-outs (the last three's forms are in ``account_lists.py``).

Who changes what is ``core.access``'s one decision: the service switch is the account itself
(``ACCOUNTS``, operators: the source product's paid "SMS PRO" activation), the daily cap, quiet hours,
time zone and country are ``SETTINGS`` (operators and the account's admin), a viewer changes nothing.
A form the caller may not send is not shown, and its POST is refused by the route's Guard anyway.

Every change goes through the same storage functions as the API (``update_account``, ``add_number`` ...):
their checks, their field names, one transaction (nothing saved half-way). The settings form carries the
account's version (the API's ETag): a change based on a page someone else changed meanwhile is refused
with the current values shown, never a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from pbx_sms.core.access import Access, Action, Decision, Resource, may
from pbx_sms.storage.accounts import AccountChanges, get_account, update_account
from pbx_sms.storage.errors import InvalidValue, InvalidValues, StorageError
from pbx_sms.storage.numbers import list_numbers, list_senders
from pbx_sms.storage.optouts import list_optouts
from pbx_sms.web.api.accounts import account_version
from pbx_sms.web.errors import ApiError, FieldProblem
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.messages import translated_problem
from pbx_sms.web.pages.render import frame_of, render, translator, url_part

router = APIRouter(include_in_schema=False)

ACCOUNT_PAGE = "/accounts/{account}/settings"
SERVICE_FORM = ACCOUNT_PAGE + "/service"
SETTINGS_FIELDS = ("daily_cap", "quiet_hours", "timezone", "country")
ENABLED_VALUES = {"true": True, "false": False}

ReadAccount = Annotated[Scope, Depends(Guard(Resource.ACCOUNTS, Access.READ))]
WriteSettings = Annotated[Scope, Depends(Guard(Resource.SETTINGS, Access.WRITE))]
SwitchService = Annotated[Scope, Depends(Guard(Resource.ACCOUNTS, Access.WRITE))]

# Field → its messages, as the template shows them under each input.
Problems = dict[str, list[str]]


def account_url(account: str) -> str:
    return f"/accounts/{url_part(account)}/settings"


@dataclass(frozen=True, slots=True)
class Typed:
    """What the reader typed, shown again with the errors (None: the stored value)."""

    settings: Mapping[str, str] | None = None
    adds: Mapping[str, str] = field(default_factory=dict)


def allowed(scope: Scope, resource: Resource, account_id: int | None) -> bool:
    return may(scope.user.principal, Action(resource, Access.WRITE), account_id) is Decision.ALLOWED


def problems_of(exc: StorageError, default_field: str) -> Problems:
    """A storage refusal as messages by field (a problem naming no field goes to ``default_field``)."""
    found: Problems = {}
    parts: Sequence[StorageError] = exc.problems if isinstance(exc, InvalidValues) else (exc,)
    for part in parts:
        name = part.field if isinstance(part, InvalidValue) and part.field else default_field
        found.setdefault(name, []).append(str(part))
    return found


def account_page(
    request: Request,
    scope: Scope,
    *,
    problems: Problems | None = None,
    typed: Typed | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    ref = scope.require_account()
    with scope.read_session() as session:
        account = get_account(session, ref.name)
        stored = {
            "daily_cap": "" if account.daily_cap is None else str(account.daily_cap),
            "quiet_hours": account.quiet_hours or "",
            "timezone": account.timezone,
            "country": account.country,
        }
        version = account_version(account)
        sms_enabled, country, timezone = account.sms_enabled, account.country, account.timezone
        numbers = [e164 for e164, _owner in list_numbers(session, ref.name)]
        senders = [sender for sender, _owner in list_senders(session, ref.name)]
        optouts = [(e164, owner is None) for e164, owner in list_optouts(session, ref.name)]
    frame = frame_of(request, scope.user, account=ref.name, account_country=country, timezone=timezone)
    typed = typed or Typed()
    # Storage's problems are English; the page's own are already translated and match no pattern.
    _ = translator(frame.language)
    shown = {key: [translated_problem(text, _) for text in texts] for key, texts in (problems or {}).items()}
    return render(
        frame,
        "account.html",
        status_code,
        base=account_url(ref.name),
        sms_enabled=sms_enabled,
        settings=typed.settings if typed.settings is not None else stored,
        adds=typed.adds,
        version=version,
        numbers=numbers,
        senders=senders,
        optouts=optouts,
        problems=shown,
        notice=notice,
        may={
            "service": allowed(scope, Resource.ACCOUNTS, ref.id),
            "settings": allowed(scope, Resource.SETTINGS, ref.id),
            "numbers": allowed(scope, Resource.NUMBERS, ref.id),
            "senders": allowed(scope, Resource.SENDERS, ref.id),
            "optouts": allowed(scope, Resource.OPTOUTS, ref.id),
        },
    )


@router.get(ACCOUNT_PAGE)
def show_account(request: Request, account: str, scope: ReadAccount) -> Response:
    return account_page(request, scope)


@router.post(SERVICE_FORM)
def switch_service(account: str, scope: SwitchService, enabled: Annotated[str | None, Form()] = None) -> Response:
    """Sets the state the button offered (a double click leaves it as asked, not flipped back)."""
    state = ENABLED_VALUES.get(enabled or "")
    if state is None:
        raise ApiError(422, "the form is not valid", problems=[FieldProblem("enabled", "expected true or false")])
    name = scope.require_account().name
    with scope.write_session() as session:
        update_account(session, name, AccountChanges(sms_enabled=state))
    return RedirectResponse(account_url(name), status_code=303)


class _Abandoned(Exception):
    """Raised inside the transaction to roll back a change the form's own checks refused."""


class _Stale(Exception):
    """The account changed since the form was drawn (its version differs): refused, nothing saved."""


@router.post(ACCOUNT_PAGE)
def save_settings(
    request: Request,
    account: str,
    scope: WriteSettings,
    daily_cap: Annotated[str, Form()] = "",
    quiet_hours: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    country: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
) -> Response:
    """Saves the four settings together or not at all; an empty cap or quiet hours means none."""
    name = scope.require_account().name
    typed = Typed(
        settings={"daily_cap": daily_cap, "quiet_hours": quiet_hours, "timezone": timezone, "country": country}
    )
    _ = translator(frame_of(request, scope.user).language)
    problems: Problems = {}
    cap_text = daily_cap.strip()
    cap: int | None = None
    if cap_text:
        try:
            cap = int(cap_text)
        except ValueError:
            problems["daily_cap"] = [_("Enter a whole number of SMS a day, or leave it empty for no cap.")]
    changes = AccountChanges(
        timezone=timezone.strip(),
        country=country.strip(),
        daily_cap=cap,
        clear_daily_cap=not cap_text,
        quiet_hours=quiet_hours.strip() or None,
        clear_quiet_hours=not quiet_hours.strip(),
    )
    try:
        with scope.write_session() as session:
            if account_version(get_account(session, name, for_update=True)) != version:
                notice = _(
                    "Someone changed these settings after you opened the page: nothing was saved. "
                    "The current values are shown; make your change again."
                )
                raise _Stale(notice)
            try:
                update_account(session, name, changes)  # its checks of every field, all at once
            except (InvalidValue, InvalidValues) as exc:
                for key, messages in problems_of(exc, "form").items():
                    problems.setdefault(key, []).extend(messages)
            if problems:
                raise _Abandoned()
    except _Stale as stale:
        return account_page(request, scope, notice=str(stale), status_code=409)
    except _Abandoned:
        return account_page(request, scope, problems=problems, typed=typed, status_code=422)
    return RedirectResponse(account_url(name), status_code=303)
