"""The role × action × account matrix of pbx_sms.core.access, written out from issue 15's words."""

from __future__ import annotations

import itertools

import pytest

from pbx_sms.core.access import Access, Action, Decision, Principal, Resource, Role, may

OWN, OTHER = 1, 2
ALLOWED, FORBIDDEN, NOT_FOUND = Decision.ALLOWED, Decision.FORBIDDEN, Decision.NOT_FOUND

# In their own account: what an admin and a viewer get, per resource, for (read, write).
OWN_ACCOUNT = {
    # The account itself: both see its settings; only an operator changes it (SMS service switch).
    Resource.ACCOUNTS: {"admin": (ALLOWED, FORBIDDEN), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.SETTINGS: {"admin": (ALLOWED, ALLOWED), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.RULES: {"admin": (ALLOWED, ALLOWED), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.NUMBERS: {"admin": (ALLOWED, ALLOWED), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.SENDERS: {"admin": (ALLOWED, ALLOWED), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.OPTOUTS: {"admin": (ALLOWED, ALLOWED), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.SMS_LOG: {"admin": (ALLOWED, FORBIDDEN), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.OUTBOX: {"admin": (ALLOWED, ALLOWED), "viewer": (ALLOWED, FORBIDDEN)},
    Resource.AUDIT: {"admin": (ALLOWED, FORBIDDEN), "viewer": (ALLOWED, FORBIDDEN)},
    # Users and the daemons' status are the operator's.
    Resource.USERS: {"admin": (FORBIDDEN, FORBIDDEN), "viewer": (FORBIDDEN, FORBIDDEN)},
    Resource.STATUS: {"admin": (FORBIDDEN, FORBIDDEN), "viewer": (FORBIDDEN, FORBIDDEN)},
}

PRINCIPALS = {
    "operator": Principal(Role.OPERATOR, None),
    "admin": Principal(Role.ADMIN, OWN),
    "viewer": Principal(Role.VIEWER, OWN),
}
ACTIONS = [Action(resource, access) for resource, access in itertools.product(Resource, Access)]
# Everything but the caller's own user, which every role reads and changes (language, password).
ACCOUNT_ACTIONS = [action for action in ACTIONS if action.resource is not Resource.SELF]


def test_the_table_covers_every_resource() -> None:
    assert set(OWN_ACCOUNT) | {Resource.SELF} == set(Resource)


@pytest.mark.parametrize("access", list(Access), ids=str)
@pytest.mark.parametrize("role", list(PRINCIPALS))
@pytest.mark.parametrize("account_id", [OWN, OTHER, None])
def test_everyone_reads_and_changes_their_own_user(role: str, access: Access, account_id: int | None) -> None:
    assert may(PRINCIPALS[role], Action(Resource.SELF, access), account_id) is ALLOWED


@pytest.mark.parametrize("action", ACTIONS, ids=str)
@pytest.mark.parametrize("account_id", [OWN, OTHER, None])
def test_an_operator_may_do_everything_everywhere(action: Action, account_id: int | None) -> None:
    assert may(PRINCIPALS["operator"], action, account_id) is ALLOWED


@pytest.mark.parametrize("action", ACCOUNT_ACTIONS, ids=str)
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_in_their_own_account(role: str, action: Action) -> None:
    read, write = OWN_ACCOUNT[action.resource][role]
    assert may(PRINCIPALS[role], action, OWN) is (read if action.access is Access.READ else write)


@pytest.mark.parametrize("action", ACCOUNT_ACTIONS, ids=str)
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_another_accounts_objects_are_not_found_never_forbidden(role: str, action: Action) -> None:
    assert may(PRINCIPALS[role], action, OTHER) is NOT_FOUND


@pytest.mark.parametrize("action", ACCOUNT_ACTIONS, ids=str)
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_objects_of_no_account_are_the_operators(role: str, action: Action) -> None:
    assert may(PRINCIPALS[role], action, None) is FORBIDDEN


@pytest.mark.parametrize("resource", sorted(set(Resource) - {Resource.SELF}), ids=str)
def test_a_viewer_never_writes(resource: Resource) -> None:
    for account_id in (OWN, OTHER, None):
        assert may(PRINCIPALS["viewer"], Action(resource, Access.WRITE), account_id) is not ALLOWED


def test_a_principal_has_an_account_exactly_when_it_is_not_an_operator() -> None:
    with pytest.raises(ValueError, match="operator"):
        Principal(Role.OPERATOR, OWN)
    for role in (Role.ADMIN, Role.VIEWER):
        with pytest.raises(ValueError, match="account_id is required"):
            Principal(role, None)
