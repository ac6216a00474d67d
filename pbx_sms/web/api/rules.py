"""An account's rules: ``/api/v1/accounts/{account}/rules``: list, read, create, change, switch on and off,
delete, and export as a rule file.

A rule's body is one rule of a rule file (``name``, ``enabled``, ``when``, ``then``), checked as ``rules
import`` checks it (storage/rule_edits.py): every problem is a 422 entry with its field path relative to
the rule (``when.status[0]``), and nothing is saved. Each rule has a version (ETag, from its stored
content): PUT and DELETE must send it in If-Match. Writes change the rules table, whose trigger bumps the
configuration version that a running daemon checks every second (storage/config_cache.py).

A rule named ``export`` cannot be read by GET .../rules/export (that is the export); the list shows it,
and PUT, DELETE, enable and disable reach it. A name with a ``/`` cannot be in a path at all (the server
decodes %2F before routing): such a rule is listed, and `pbx-sms rules delete` removes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from pbx_sms.core.access import Access, Resource
from pbx_sms.core.rules import Rule, rule_to_document
from pbx_sms.manage.rule_views import text_warning
from pbx_sms.storage.rule_edits import RuleRejected, create_rule, locked_rule, update_rule
from pbx_sms.storage.rule_store import (
    StoredRule,
    delete_rule,
    export_rules,
    get_stored_rule,
    set_rule_enabled,
    stored_rules,
)
from pbx_sms.web.api import ERROR_RESPONSES, V1, ProblemBody, error_responses
from pbx_sms.web.errors import ApiError, FieldProblem
from pbx_sms.web.guard import Guard, Scope
from pbx_sms.web.versions import check_if_match, version_of

router = APIRouter(prefix=V1, tags=["rules"], responses=ERROR_RESPONSES)

RULES_PATH = "/accounts/{account}/rules"
RULE_PATH = RULES_PATH + "/{rule}"
YAML_MEDIA_TYPE = "application/yaml"

# The answers particular to these routes (the guard's 401/403/404 and the 422 of a bad body are everyone's).
_NAME_TAKEN = error_responses(409)  # the account has a rule of that name
_INVALID_STORED = error_responses(409)  # a stored rule is not valid now
_VERSIONED = error_responses(412, 428)

ReadRules = Annotated[Scope, Depends(Guard(Resource.RULES, Access.READ))]
WriteRules = Annotated[Scope, Depends(Guard(Resource.RULES, Access.WRITE))]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` written in place: OpenAPI resolves ``#/$defs/...`` against its own
    document, not against the schema that holds them (the rule model has no recursion)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_RULE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inlined(Rule.model_json_schema(by_alias=True))}},
    }
}
RuleDocument = Annotated[
    dict[str, Any],
    Body(description="One rule of a rule file: name, enabled, when, then (checked as `pbx-sms rules import` does)."),
]


class RuleOut(BaseModel):
    """A stored rule: the rule document as in a rule file (``when``/``then`` null when the stored row is not a
    valid rule), whether it is used, why not (``problems``: the column of the row to fix), and its version."""

    name: str
    enabled: bool
    when: dict[str, Any] | None
    then: dict[str, Any] | None
    valid: bool
    problems: list[ProblemBody]
    warnings: list[ProblemBody]
    updated_at: datetime | None
    version: str


class DeletedRule(BaseModel):
    name: str
    cancelled_sms: int


def _warnings(rule: Rule) -> list[ProblemBody]:
    warning = text_warning(rule)
    return [] if warning is None else [ProblemBody(field="then.text", message=warning)]


def rule_version(stored: StoredRule) -> str:
    """The ETag of the rule: of its stored content, so an edit made by SQL is a new version too."""
    return version_of(stored.content)


def rule_out(stored: StoredRule) -> RuleOut:
    document = rule_to_document(stored.rule) if stored.rule is not None else {}
    return RuleOut(
        name=stored.name,
        enabled=stored.enabled,
        when=document.get("when"),
        then=document.get("then"),
        valid=stored.valid,
        problems=[ProblemBody(field=problem.field, message=problem.message) for problem in stored.problems],
        warnings=[] if stored.rule is None else _warnings(stored.rule),
        updated_at=stored.updated_at,
        version=rule_version(stored),
    )


def _answer(session: Session, account_name: str, name: str, response: Response) -> RuleOut:
    """The rule as stored now, its version also in the ETag header."""
    found = rule_out(get_stored_rule(session, account_name, name))
    response.headers["ETag"] = found.version
    return found


def _current_version(session: Session, account_name: str, name: str) -> str:
    """The version of the rule, locked until the transaction ends (so nobody changes it between the
    If-Match check and the change)."""
    return rule_version(locked_rule(session, account_name, name))


def _unprocessable(rejected: RuleRejected) -> ApiError:
    problems = [FieldProblem(field, message) for field, message in rejected.problems]
    return ApiError(422, "the rule is not valid (see errors); nothing was saved", problems=problems)


def rule_location(account_name: str, name: str) -> str:
    return f"{V1}/accounts/{quote(account_name, safe='')}/rules/{quote(name, safe='')}"


@router.get(RULES_PATH, response_model=list[RuleOut])
def list_rules(account: str, scope: ReadRules) -> list[RuleOut]:
    """The account's rules by name, invalid ones included (with their problems)."""
    account_name = scope.require_account().name
    with scope.read_session() as session:
        return [rule_out(stored) for stored in stored_rules(session, account_name)]


@router.get(
    RULES_PATH + "/export",
    response_class=Response,
    responses={200: {"content": {YAML_MEDIA_TYPE: {"schema": {"type": "string"}}}}, **_INVALID_STORED},
)
def export_account_rules(account: str, scope: ReadRules) -> Response:
    """The account's rules as a rule file, byte for byte what `pbx-sms rules export --account` writes;
    409 while a stored rule is invalid."""
    with scope.read_session() as session:
        text = export_rules(session, scope.require_account().name)
    return Response(text, media_type=YAML_MEDIA_TYPE)


@router.post(RULES_PATH, response_model=RuleOut, status_code=201, responses=_NAME_TAKEN, openapi_extra=_RULE_BODY)
def create_account_rule(account: str, document: RuleDocument, response: Response, scope: WriteRules) -> RuleOut:
    """Add a rule (409 if the account has one of that name); answers with its Location and ETag."""
    account_name = scope.require_account().name
    with scope.write_session() as session:
        try:
            stored = create_rule(session, account_name, document)
        except RuleRejected as exc:
            raise _unprocessable(exc) from None
        created = _answer(session, account_name, stored.name, response)
    response.headers["Location"] = rule_location(account_name, stored.name)
    return created


@router.get(RULE_PATH, response_model=RuleOut)
def read_rule(account: str, rule: str, response: Response, scope: ReadRules) -> RuleOut:
    with scope.read_session() as session:
        return _answer(session, scope.require_account().name, rule, response)


@router.put(RULE_PATH, response_model=RuleOut, responses={**_NAME_TAKEN, **_VERSIONED}, openapi_extra=_RULE_BODY)
def replace_rule(
    account: str, rule: str, document: RuleDocument, request: Request, response: Response, scope: WriteRules
) -> RuleOut:
    """Replace the rule by the body, If-Match required (428 without, 412 when stale). The body is the whole
    rule, as in a rule file (``enabled`` left out is true); a new ``name`` renames it (409 if taken)."""
    account_name = scope.require_account().name
    with scope.write_session() as session:
        check_if_match(request, _current_version(session, account_name, rule))
        try:
            stored = update_rule(session, account_name, rule, document)
        except RuleRejected as exc:
            raise _unprocessable(exc) from None
        return _answer(session, account_name, stored.name, response)


def _switch(scope: Scope, name: str, enabled: bool, response: Response) -> RuleOut:
    account_name = scope.require_account().name
    with scope.write_session() as session:
        set_rule_enabled(session, account_name, name, enabled)
        return _answer(session, account_name, name, response)


@router.post(RULE_PATH + "/enable", response_model=RuleOut, responses=_INVALID_STORED)
def enable_rule(account: str, rule: str, response: Response, scope: WriteRules) -> RuleOut:
    """Switch the rule on, exactly as it is stored (409 if it is invalid now).

    No If-Match: switching sets one state and builds on nothing the caller read, so it cannot undo anyone's
    edit, and doing it twice is doing it once (as `pbx-sms rules enable`). The answer carries the new ETag.
    """
    return _switch(scope, rule, True, response)


@router.post(RULE_PATH + "/disable", response_model=RuleOut)
def disable_rule(account: str, rule: str, response: Response, scope: WriteRules) -> RuleOut:
    """Switch the rule off, keeping everything else. No If-Match, for the reasons given at enable."""
    return _switch(scope, rule, False, response)


@router.delete(RULE_PATH, response_model=DeletedRule, responses=_VERSIONED)
def remove_rule(account: str, rule: str, request: Request, scope: WriteRules) -> DeletedRule:
    """Delete the rule and cancel its queued SMS, If-Match required (428 without, 412 when stale)."""
    account_name = scope.require_account().name
    with scope.write_session() as session:
        check_if_match(request, _current_version(session, account_name, rule))
        cancelled = delete_rule(session, account_name, rule)
    return DeletedRule(name=rule, cancelled_sms=cancelled)
