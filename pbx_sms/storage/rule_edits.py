"""Creating and changing one rule given as a document (the API's body): checked as a rule of a rule file
and against what the account owns (its senders and numbers), exactly as ``rules import`` checks each rule;
all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pbx_sms.core.bounds import RULE_NAME_MAX_CHARS
from pbx_sms.core.rulefile import RuleFileInvalid, check_rule_document
from pbx_sms.core.rules import Rule
from pbx_sms.db.config_tables import Account, RuleRow
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.errors import AlreadyExists, InvalidValue
from pbx_sms.storage.rule_rows import rule_to_columns
from pbx_sms.storage.rule_store import StoredRule, get_stored_rule, load_ownership, rule_row
from pbx_sms.storage.values import can_be_stored


class RuleRejected(InvalidValue):
    """Nothing was changed; ``problems`` lists every (field, message), each field relative to the rule."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("the rule is not valid: " + "; ".join(f"{field}: {message}" for field, message in problems))


def checked_rule(session: Session, account: Account, document: Any) -> Rule:
    """The rule of ``document`` if it is a valid rule that the account may use; RuleRejected otherwise."""
    try:
        rule = check_rule_document(document)
    except RuleFileInvalid as exc:
        raise RuleRejected([(error.field, error.message) for error in exc.errors]) from None
    problems = load_ownership(session, account).problems(rule)
    if problems:
        raise RuleRejected(problems)
    return rule


def locked_rule(session: Session, account_name: str, name: str) -> StoredRule:
    """The rule as stored (NotFound if there is none), its row locked until the transaction ends: what a
    change is checked against (its version) cannot change before the change is made."""
    rule_row(session, account_name, name, lock=True)
    return get_stored_rule(session, account_name, name)


def _name_taken(session: Session, account: Account, name: str) -> bool:
    if not can_be_stored(name, RULE_NAME_MAX_CHARS):
        return False
    query = select(RuleRow.id).where(RuleRow.account_id == account.id, RuleRow.name == name)
    return session.scalar(query) is not None


def _taken(account: Account, name: str) -> AlreadyExists:
    return AlreadyExists(f"account {account.name!r} already has a rule named {name!r}: choose another name")


def _flush_unless_taken(session: Session, account: Account, name: str) -> None:
    """Write; a rule of that name added meanwhile by another transaction (the unique (account, name)
    constraint) is the same AlreadyExists as one found before."""
    try:
        session.flush()
    except IntegrityError:
        raise _taken(account, name) from None


def create_rule(session: Session, account_name: str, document: Any) -> StoredRule:
    """Add the rule of ``document``; AlreadyExists if the account has a rule of that name."""
    account = get_account(session, account_name)
    rule = checked_rule(session, account, document)
    if _name_taken(session, account, rule.name):
        raise _taken(account, rule.name)
    session.add(RuleRow(account_id=account.id, name=rule.name, **rule_to_columns(rule)))
    _flush_unless_taken(session, account, rule.name)
    return get_stored_rule(session, account.name, rule.name)


def update_rule(session: Session, account_name: str, name: str, document: Any) -> StoredRule:
    """Replace rule ``name`` by the rule of ``document``, whose name may be a new one that the account has no
    rule of (a rename keeps the row, as ``rules import`` keeps it for a changed rule)."""
    account = get_account(session, account_name)
    row = rule_row(session, account.name, name, lock=True)
    rule = checked_rule(session, account, document)
    if rule.name != name and _name_taken(session, account, rule.name):
        raise _taken(account, rule.name)
    row.name = rule.name
    for column, value in rule_to_columns(rule).items():
        setattr(row, column, value)
    _flush_unless_taken(session, account, rule.name)
    return get_stored_rule(session, account.name, rule.name)
