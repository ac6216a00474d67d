"""The rule form: create (``/rules/new``) and edit (``/rules/{rule}/edit``) a rule in two sections,
"If the call meets these conditions" and "Then do this".

Saving validates as a rule file does (pages.rule_form), then checks the account's senders and numbers
and stores the rule with ``rule_store.import_rules`` in one transaction; any problem is shown at its
field and nothing is saved. (The API's create/update functions, storage/rule_edits.py, are written in
parallel: this is to switch to them once merged.)
"""

from __future__ import annotations

from typing import Annotated

from babel.dates import get_day_names
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pbx_sms.core.access import Access, Resource
from pbx_sms.core.rules import Rule
from pbx_sms.core.schedule import WEEKDAYS
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.numbers import list_numbers, list_senders
from pbx_sms.storage.rule_store import RuleSource, delete_rule, get_stored_rule, import_rules, load_ownership
from pbx_sms.storage.rule_store import stored_rules as list_stored
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.pages.render import render, translator
from pbx_sms.web.pages.rule_cells import direction_label, status_label
from pbx_sms.web.pages.rule_form import (
    FORM_SOURCE,
    Problems,
    RuleForm,
    Translate,
    checked_rule,
    document_of_form,
    field_of,
    form_of_post,
    form_of_rule,
)
from pbx_sms.web.pages.rules import RULES_PAGE, account_frame, rules_url

router = APIRouter(include_in_schema=False)

NEW_RULE = RULES_PAGE + "/new"
EDIT_RULE = RULES_PAGE + "/{rule:path}/edit"
STATUSES = ("answered", "no_answer", "busy", "failed")
DIRECTIONS = ("in", "out", "any")

WriteRules = Annotated[Scope, Depends(Guard(Resource.RULES, Access.WRITE))]


def form_page(
    request: Request, scope: Scope, form: RuleForm, *, editing: str | None, problems: Problems | None = None
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
        problems=problems or {},
        editing=editing,
        numbers=numbers,
        senders=senders,
        statuses=[(status, status_label(_, status)) for status in STATUSES],
        directions=[(direction, direction_label(_, direction)) for direction in DIRECTIONS],
        weekdays=list(WEEKDAYS),
        day_names=[get_day_names("wide", locale=frame.language)[index] for index in range(len(WEEKDAYS))],
        base=rules_url(account),
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
async def create_rule(request: Request, scope: WriteRules) -> Response:
    form = form_of_post(fields_of(await request.form()))
    return await run_in_threadpool(save, request, scope, form, editing=None)


@router.post(EDIT_RULE)
async def update_rule(request: Request, rule: str, scope: WriteRules) -> Response:
    form = form_of_post(fields_of(await request.form()))
    return await run_in_threadpool(save, request, scope, form, editing=rule)


def save(request: Request, scope: Scope, form: RuleForm, *, editing: str | None) -> Response:
    account = scope.require_account().name
    _ = translator(account_frame(request, scope).language)
    with scope.write_session() as session:
        names = {stored.name: stored.enabled for stored in list_stored(session, account)}
        if editing is not None and editing not in names:
            get_stored_rule(session, account, editing)  # 404: the rule was deleted meanwhile
        document, problems = document_of_form(form, names.get(editing or "", True), _)
        rule, rule_problems = checked_rule(account, document)
        if rule is not None:
            rule_problems = _account_problems(session, account, rule, editing, names, _)
        for where, messages in rule_problems.items():
            problems.setdefault(where, []).extend(messages)
        if rule is not None and not problems:
            if editing is not None and editing != rule.name:
                # Renamed: the old row goes in the same transaction (its queued SMS are cancelled with it).
                delete_rule(session, account, editing)
            import_rules(session, [RuleSource(FORM_SOURCE, account, [rule])])
    if rule is None or problems:  # nothing was written
        return form_page(request, scope, form, editing=editing, problems=problems)
    return RedirectResponse(rules_url(account), status_code=303)


def _account_problems(
    session: Session, account: str, rule: Rule, editing: str | None, names: dict[str, bool], _: Translate
) -> Problems:
    """What the rule file alone cannot know: the account's senders and numbers, and its other rules' names."""
    problems: Problems = {}
    for path, message in load_ownership(session, get_account(session, account)).problems(rule):
        problems.setdefault(field_of(path), []).append(message)
    if rule.name != editing and rule.name in names:
        problems.setdefault("name", []).append(_("the account already has a rule with this name"))
    return problems


def fields_of(form: FormData) -> dict[str, list[str]]:
    return {key: [value for value in form.getlist(key) if isinstance(value, str)] for key in form}
