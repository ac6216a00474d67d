"""Who may do what, on which account (pure): the one decision every API route and the CLI's future
checks call.

Roles (issue 15): an ``operator`` runs the installation: every account, creates accounts, switches
their SMS service, manages users. An ``admin`` manages one account's rules, numbers, senders, opt-outs,
SMS log and outbox. A ``viewer`` reads that same one account and changes nothing.

An object of another account is ``NotFound``, never ``Forbidden``: answering 403 would tell an admin
of account A that account B has an object with that id. Only where the object is the caller's own
(or is not an account's at all) does a missing right become ``Forbidden``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    ADMIN = "admin"
    VIEWER = "viewer"


class Resource(StrEnum):
    """What a route acts on. ``ACCOUNTS``: the account itself (its settings and SMS service switch)."""

    ACCOUNTS = "accounts"
    # The settings an account's admin keeps (daily cap, quiet hours, time zone, country): not the SMS
    # service switch, the allowed countries, creating or removing the account, which stay ACCOUNTS.
    SETTINGS = "settings"
    RULES = "rules"
    NUMBERS = "numbers"
    SENDERS = "senders"
    OPTOUTS = "optouts"
    SMS_LOG = "sms_log"
    OUTBOX = "outbox"
    USERS = "users"
    STATUS = "status"
    AUDIT = "audit"
    SELF = "self"  # the caller's own user (who am I, my language, my password): every role, any account


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


class Decision(StrEnum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # 403: the caller may see the object but not do this to it
    NOT_FOUND = "not_found"  # 404: the object is another account's, and that is not revealed


@dataclass(frozen=True, slots=True)
class Action:
    resource: Resource
    access: Access


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated, enabled user as the policy sees it: a role and, unless operator, one account."""

    role: Role
    account_id: int | None

    def __post_init__(self) -> None:
        if self.role is Role.OPERATOR and self.account_id is not None:
            raise ValueError("an operator works on every account: account_id must be None")
        if self.role is not Role.OPERATOR and self.account_id is None:
            raise ValueError(f"{self.role.value}: belongs to one account; account_id is required")


# What an admin may change in their own account; a viewer changes nothing, both read these.
ADMIN_WRITES = frozenset(
    {Resource.SETTINGS, Resource.RULES, Resource.NUMBERS, Resource.SENDERS, Resource.OPTOUTS, Resource.OUTBOX}
)
# What an admin or viewer may read in their own account (ACCOUNTS: their account's settings).
ACCOUNT_READS = frozenset(ADMIN_WRITES | {Resource.ACCOUNTS, Resource.SMS_LOG, Resource.AUDIT})


def may(principal: Principal, action: Action, account_id: int | None) -> Decision:
    """May ``principal`` do ``action`` on an object of account ``account_id``?

    ``account_id`` None: the object belongs to no single account (the list of accounts, a new account,
    a global opt-out, the users, the daemons' status): only an operator acts on those.
    """
    if principal.role is Role.OPERATOR or action.resource is Resource.SELF:
        return Decision.ALLOWED
    if account_id is None:
        return Decision.FORBIDDEN
    if account_id != principal.account_id:
        return Decision.NOT_FOUND
    if action.access is Access.READ:
        return Decision.ALLOWED if action.resource in ACCOUNT_READS else Decision.FORBIDDEN
    if principal.role is Role.ADMIN and action.resource in ADMIN_WRITES:
        return Decision.ALLOWED
    return Decision.FORBIDDEN
