"""The rule form: create (``/rules/new``) and edit (``/rules/{rule}/edit``) a rule in two sections,
"If the call meets these conditions" and "Then do this".

Saving goes through the API's own create and update (storage.rule_edits): the rule file's checks, then
the account's senders and numbers, in one transaction; any problem is shown at its field and nothing is
saved. The form's other buttons post the same fields: "Count" shows the counter for the text as typed
(with scripting off), "Backtest" what the rule as typed would have sent over the last 30 days.
"""

from __future__ import annotations

from typing import Annotated

from babel.dates import get_day_names
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pbx_sms.core.access import Access, Resource
from pbx_sms.core.schedule import WEEKDAYS
from pbx_sms.manage.backtest_replay import BacktestResult
from pbx_sms.storage.errors import AlreadyExists
from pbx_sms.storage.numbers import list_numbers, list_senders
from pbx_sms.storage.rule_edits import RuleRejected, create_rule, update_rule
from pbx_sms.storage.rule_store import get_stored_rule
from pbx_sms.web.api import V1
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.messages import translated_problem
from pbx_sms.web.pages.render import render, translator, url_part
from pbx_sms.web.pages.rule_backtest import backtest_of_form
from pbx_sms.web.pages.rule_cells import direction_label, status_label
from pbx_sms.web.pages.rule_counter import counter_view
from pbx_sms.web.pages.rule_form import (
    Problems,
    RuleForm,
    checked_rule,
    document_of_form,
    form_of_post,
    form_of_rule,
    merge_problems,
    problems_by_field,
)
from pbx_sms.web.pages.rules import RULES_PAGE, account_frame, rules_url
from pbx_sms.web.pages.sms_labels import reason_labels

router = APIRouter(include_in_schema=False)

NEW_RULE = RULES_PAGE + "/new"
EDIT_RULE = RULES_PAGE + "/{rule:path}/edit"
STATUSES = ("answered", "no_answer", "busy", "failed")
DIRECTIONS = ("in", "out", "any")
# The form's buttons (``intent``): save it, only count its text, or backtest the rule as typed.
SAVE, COUNT, BACKTEST = "save", "count", "backtest"

WriteRules = Annotated[Scope, Depends(Guard(Resource.RULES, Access.WRITE))]


def form_page(
    request: Request,
    scope: Scope,
    form: RuleForm,
    *,
    editing: str | None,
    problems: Problems | None = None,
    backtest: BacktestResult | None = None,
) -> Response:
    account = scope.require_account().name
    frame = account_frame(request, scope)
    _ = translator(frame.language)
    with scope.read_session() as session:
        numbers = [e164 for e164, _owner in list_numbers(session, account)]
        senders = [sender for sender, _owner in list_senders(session, account)]
    return render(
        frame,
        "rule_form.html",
        422 if problems else 200,
        form=form,
        problems={
            where: [translated_problem(message, _) for message in found] for where, found in (problems or {}).items()
        },
        editing=editing,
        numbers=numbers,
        senders=senders,
        statuses=[(status, status_label(_, status)) for status in STATUSES],
        directions=[(direction, direction_label(_, direction)) for direction in DIRECTIONS],
        weekdays=list(WEEKDAYS),
        day_names=[get_day_names("wide", locale=frame.language)[index] for index in range(len(WEEKDAYS))],
        base=rules_url(account),
        counter=counter_view(form.text, transliterated=form.transliterate, translate=_),
        reasons=reason_labels(_),
        preview_url=f"{V1}/accounts/{url_part(account)}/rules/preview",
        backtest=backtest,
    )


@router.get(NEW_RULE)
def new_rule(request: Request, scope: WriteRules) -> Response:
    return form_page(request, scope, RuleForm(), editing=None)


@router.get(EDIT_RULE)
def edit_rule(request: Request, rule: str, scope: WriteRules) -> Response:
    with scope.read_session() as session:
        stored = get_stored_rule(session, scope.require_account().name, rule)
    form = form_of_rule(stored.rule) if stored.rule is not None else RuleForm(name=stored.name)
    return form_page(request, scope, form, editing=stored.name)


@router.post(NEW_RULE)
async def create_rule_page(request: Request, scope: WriteRules) -> Response:
    return await posted(request, scope, editing=None)


@router.post(EDIT_RULE)
async def update_rule_page(request: Request, rule: str, scope: WriteRules) -> Response:
    return await posted(request, scope, editing=rule)


async def posted(request: Request, scope: Scope, *, editing: str | None) -> Response:
    fields = fields_of(await request.form())
    form = form_of_post(fields)
    intent = (fields.get("intent") or [SAVE])[-1]
    if intent == COUNT:
        return await run_in_threadpool(form_page, request, scope, form, editing=editing)
    if intent == BACKTEST:
        return await run_in_threadpool(backtest, request, scope, form, editing=editing)
    return await run_in_threadpool(save, request, scope, form, editing=editing)


def backtest(request: Request, scope: Scope, form: RuleForm, *, editing: str | None) -> Response:
    """The form again, with what the rule as typed would have sent (nothing is saved)."""
    _ = translator(account_frame(request, scope).language)
    document, problems = document_of_form(form, True, _)
    rule, rule_problems = checked_rule(document)
    merge_problems(problems, rule_problems)
    if rule is None or problems:
        return form_page(request, scope, form, editing=editing, problems=problems)
    return form_page(request, scope, form, editing=editing, backtest=backtest_of_form(scope, rule))


def save(request: Request, scope: Scope, form: RuleForm, *, editing: str | None) -> Response:
    """Store the form's rule through storage.rule_edits (the API's create and update: the rule file's checks
    and the account's senders and numbers, all or nothing; a rename keeps the row and its history)."""
    account = scope.require_account().name
    _ = translator(account_frame(request, scope).language)
    try:
        with scope.write_session() as session:
            enabled = True if editing is None else get_stored_rule(session, account, editing).enabled
            document, problems = document_of_form(form, enabled, _)
            if problems:  # the form's own mistakes: the rule's other fields are checked too, nothing is written
                merge_problems(problems, checked_rule(document)[1])
            elif editing is None:
                create_rule(session, account, document)
            else:
                update_rule(session, account, editing, document)
    except RuleRejected as exc:
        problems = problems_by_field(exc.problems)
    except AlreadyExists:
        problems = {"name": [_("the account already has a rule with this name")]}
    if problems:  # nothing was written: the transaction ended without a change
        return form_page(request, scope, form, editing=editing, problems=problems)
    return RedirectResponse(rules_url(account), status_code=303)


def fields_of(form: FormData) -> dict[str, list[str]]:
    return {key: [value for value in form.getlist(key) if isinstance(value, str)] for key in form}
