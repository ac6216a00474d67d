"""The audit log: ``/api/v1/audit`` (operator: every entry) and ``/api/v1/accounts/{account}/audit`` (an
account's own admin and viewer: its entries about what they may read). Newest first; ``next_cursor``
is the ``cursor`` of the next, older page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from pbx_sms.core.access import Access, Action, Decision, Principal, Resource, may
from pbx_sms.core.bounds import INTEGER_MAX
from pbx_sms.storage.audit import Entity
from pbx_sms.storage.audit_entries import DEFAULT_LIMIT, MAX_LIMIT, AuditEntry, AuditQuery, list_page
from pbx_sms.web.api import ERROR_RESPONSES, V1
from pbx_sms.web.errors import ApiError, FieldProblem
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=V1, tags=["audit"], responses=ERROR_RESPONSES)

# Whose read right an entry needs: an admin or viewer sees an entry only about what they may read.
ENTITY_RESOURCES: dict[Entity, Resource] = {
    Entity.RULE: Resource.RULES,
    Entity.ACCOUNT: Resource.ACCOUNTS,
    Entity.NUMBER: Resource.NUMBERS,
    Entity.SENDER: Resource.SENDERS,
    Entity.OPTOUT: Resource.OPTOUTS,
    Entity.USER: Resource.USERS,
    Entity.TOKEN: Resource.USERS,
}


class ChangeOut(BaseModel):
    field: str = Field(description='The changed field of the document, as a dotted path ("when.status").')
    before: Any
    after: Any


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description='Who made the change: "web:USER", "cli:SHELL_USER", "daemon".')
    account: str | None = Field(description="The account's name (kept after its removal); null: no account's.")
    entity: str = Field(description="rule, account, number, sender, optout, user, token.")
    key: str = Field(description="Which one: the rule's name, the number, the sender ID, the user, the token's id.")
    action: str = Field(description="create, update, delete, enable, disable, password, revoke.")
    before: dict[str, Any] | None = Field(description="The object before the change; null when it was created.")
    after: dict[str, Any] | None = Field(description="The object after the change; null when it was deleted.")
    changes: list[ChangeOut] = Field(description="The fields an update changed (empty for create and delete).")


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: int | None = Field(description="Pass as `cursor` for the next, older page; null on the last.")


EntityParam = Annotated[Entity | None, Query(description="Only changes of this kind of object.")]
SinceParam = Annotated[datetime | None, Query(description="Only changes from this time on (ISO 8601; no zone: UTC).")]
CursorParam = Annotated[int | None, Query(ge=1, le=INTEGER_MAX, description="`next_cursor` of the previous page.")]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many entries.")]


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        account=entry.account,
        entity=entry.entity,
        key=entry.key,
        action=entry.action,
        before=entry.before,
        after=entry.after,
        changes=[ChangeOut(field=path, before=old, after=new) for path, old, new in entry.changes()],
    )


def _since_utc(since: datetime | None) -> datetime | None:
    if since is None:
        return None
    try:
        return (since.replace(tzinfo=UTC) if since.tzinfo is None else since).astimezone(UTC)
    except OverflowError:
        raise ApiError(
            422,
            "invalid query parameter",
            problems=[FieldProblem("since", "expected a time between 0001-01-01 and 9999-12-31 UTC")],
        ) from None


def readable_entities(principal: Principal, account_id: int, wanted: Entity | None) -> list[str]:
    """The kinds of entries of this account that the caller may read (and asked for)."""
    return [
        entity.value
        for entity, resource in ENTITY_RESOURCES.items()
        if (wanted is None or entity is wanted)
        and may(principal, Action(resource, Access.READ), account_id) is Decision.ALLOWED
    ]


def _page_out(scope: Scope, query: AuditQuery) -> AuditPageOut:
    with scope.read_session() as session:
        page = list_page(session, query)
    return AuditPageOut(entries=[entry_out(entry) for entry in page.entries], next_cursor=page.next_cursor)


@router.get("/audit", response_model=AuditPageOut)
def list_audit(
    scope: Annotated[Scope, Depends(Guard(Resource.AUDIT, Access.READ))],
    account: Annotated[str | None, Query(description="Only this account's (also of a removed account).")] = None,
    entity: EntityParam = None,
    since: SinceParam = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> AuditPageOut:
    """Every change, newest first (operator)."""
    query = AuditQuery(
        account_name=account,
        entities=None if entity is None else [entity.value],
        since=_since_utc(since),
        before_id=cursor,
        limit=limit,
    )
    return _page_out(scope, query)


@router.get("/accounts/{account}/audit", response_model=AuditPageOut)
def list_account_audit(
    account: str,
    scope: Annotated[Scope, Depends(Guard(Resource.AUDIT, Access.READ))],
    entity: EntityParam = None,
    since: SinceParam = None,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_LIMIT,
) -> AuditPageOut:
    """The account's changes, newest first; its admin and viewer see those about what they may read."""
    account_id = scope.require_account().id
    query = AuditQuery(
        account_id=account_id,
        entities=readable_entities(scope.user.principal, account_id, entity),
        since=_since_utc(since),
        before_id=cursor,
        limit=limit,
    )
    return _page_out(scope, query)
