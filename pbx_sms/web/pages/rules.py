"""The rules page ("SMS after call"): the list, the one-click enable/disable and delete after a confirmation.

Every change is a small POST form (they work with scripting off) answered by a redirect to the list,
so a reload does not post again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from pbx_sms.core.access import Access, Action, Decision, Resource, may
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.errors import Refused
from pbx_sms.storage.rule_store import delete_rule, get_stored_rule, set_rule_enabled, stored_rules
from pbx_sms.web.errors import ApiError, FieldProblem
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.render import Frame, frame_of, render, translator, url_part
from pbx_sms.web.pages.rule_cells import rule_cells

router = APIRouter(include_in_schema=False)

RULES_PAGE = "/accounts/{account}/rules"
# {rule:path}: a rule name may hold a "/"; quoted as %2F it arrives decoded and still matches.
RULE_ENABLED = RULES_PAGE + "/{rule:path}/enabled"
RULE_DELETE = RULES_PAGE + "/{rule:path}/delete"

ENABLED_VALUES = {"true": True, "false": False}

ReadRules = Annotated[Scope, Depends(Guard(Resource.RULES, Access.READ))]
WriteRules = Annotated[Scope, Depends(Guard(Resource.RULES, Access.WRITE))]


def rules_url(account: str) -> str:
    return f"/accounts/{url_part(account)}/rules"


def account_frame(request: Request, scope: Scope) -> Frame:
    account_name = scope.require_account().name
    with scope.read_session() as session:
        account = get_account(session, account_name)
        country, timezone = account.country, account.timezone
    return frame_of(request, scope.user, account=account_name, account_country=country, timezone=timezone)


def rules_page(request: Request, scope: Scope, *, problem: str | None = None, status_code: int = 200) -> Response:
    account = scope.require_account()
    frame = account_frame(request, scope)
    _ = translator(frame.language)
    with scope.read_session() as session:
        rules = stored_rules(session, account.name)
    rows = [
        (stored, rule_cells(stored.rule, frame.language, _) if stored.rule is not None else None) for stored in rules
    ]
    may_write = may(scope.user.principal, Action(Resource.RULES, Access.WRITE), account.id) is Decision.ALLOWED
    return render(
        frame, "rules.html", status_code, rows=rows, may_write=may_write, problem=problem, base=rules_url(account.name)
    )


@router.get(RULES_PAGE)
def list_rules(request: Request, scope: ReadRules) -> Response:
    return rules_page(request, scope)


@router.post(RULE_ENABLED)
def switch_rule(
    request: Request, rule: str, scope: WriteRules, enabled: Annotated[str | None, Form()] = None
) -> Response:
    """Sets the state the button offered (a double click leaves it as asked, not flipped back).

    ``enabled`` is read here, after the rule is found: another account's rule is 404 whatever the form says.
    """
    account = scope.require_account().name
    state = ENABLED_VALUES.get(enabled or "")
    try:
        with scope.write_session() as session:
            get_stored_rule(session, account, rule)
            if state is None:
                raise ApiError(
                    422, "the form is not valid", problems=[FieldProblem("enabled", "expected true or false")]
                )
            set_rule_enabled(session, account, rule, state)
    except Refused as exc:  # an invalid rule cannot be enabled: say why on the list
        return rules_page(request, scope, problem=str(exc), status_code=409)
    return RedirectResponse(rules_url(account), status_code=303)


@router.get(RULE_DELETE)
def confirm_delete(request: Request, rule: str, scope: WriteRules) -> Response:
    account = scope.require_account().name
    with scope.read_session() as session:
        stored = get_stored_rule(session, account, rule)
    return render(account_frame(request, scope), "rule_delete.html", rule=stored.name, base=rules_url(account))


@router.post(RULE_DELETE)
def delete(rule: str, scope: WriteRules) -> Response:
    account = scope.require_account().name
    with scope.write_session() as session:
        delete_rule(session, account, rule)
    return RedirectResponse(rules_url(account), status_code=303)
