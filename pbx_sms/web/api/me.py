"""``GET /api/v1/me``: who the caller is (any role; the panel and scripts start here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from pbx_sms.core.access import Access, Resource
from pbx_sms.storage.users import UserView
from pbx_sms.web.api import ERROR_RESPONSES, V1
from pbx_sms.web.guard import Guard, Scope

router = APIRouter(prefix=V1, tags=["users"], responses=ERROR_RESPONSES)


class Me(BaseModel):
    name: str
    role: str
    account: str | None
    language: str


@router.get("/me", response_model=Me)
def read_me(scope: Annotated[Scope, Depends(Guard(Resource.SELF, Access.READ))]) -> Me:
    return me_of(scope.user)


def me_of(user: UserView) -> Me:
    return Me(name=user.name, role=user.role.value, account=user.account, language=user.language)
