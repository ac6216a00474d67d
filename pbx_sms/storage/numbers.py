"""Company numbers (DIDs) and sender IDs of an account; refusing removals that enabled rules depend on."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from pbx_sms.core.bounds import SENDER_MAX_CHARS
from pbx_sms.core.phone import normalise
from pbx_sms.db.config_tables import Account, CompanyNumber, RuleRow, Sender
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.errors import AlreadyExists, InvalidValue, NotFound, Refused
from pbx_sms.storage.field_checks import checked
from pbx_sms.storage.values import can_be_stored, check_sender_id, decode_list


def to_e164(raw: str, country: str, *, field: str | None = None) -> str:
    """A phone number in any format → E.164 (read with ``country`` unless it starts with +)."""
    e164 = normalise(raw, country)
    if e164 is None:
        message = f"number {raw!r}: not a valid phone number (read with default country {country})"
        raise InvalidValue(message, field=field)
    return e164


def add_number(session: Session, raw: str, account_name: str, *, field: str | None = None) -> CompanyNumber:
    """Give ``raw`` (any format) to the account; ``field`` names it in an InvalidValue."""
    account = get_account(session, account_name)
    e164 = to_e164(raw, account.country, field=field)
    owner = session.scalar(
        select(Account.name)
        .join(CompanyNumber, CompanyNumber.account_id == Account.id)
        .where(CompanyNumber.e164 == e164)
    )
    if owner is not None:
        raise AlreadyExists(f"number {e164} already belongs to account {owner!r}")
    number = CompanyNumber(e164=e164, account_id=account.id)
    session.add(number)
    session.flush()
    return number


def list_numbers(session: Session, account_name: str | None = None) -> Sequence[tuple[str, str]]:
    """(E.164, account name) pairs, of one account or of all."""
    return _with_account_names(session, CompanyNumber.e164, CompanyNumber.account_id, account_name)


def _with_account_names(
    session: Session, column: InstrumentedAttribute[str], owner_id: InstrumentedAttribute[int], account_name: str | None
) -> list[tuple[str, str]]:
    """(column value, account name) pairs of a per-account table, of one account or of all, by account then value."""
    query = select(column, Account.name).join(Account, owner_id == Account.id)
    if account_name is not None:
        query = query.where(Account.id == get_account(session, account_name).id)
    return [(item, name) for item, name in session.execute(query.order_by(Account.name, column))]


def enabled_rules_using(
    session: Session, account_id: int, *, number: str | None = None, sender: str | None = None
) -> list[str]:
    """Names of the account's enabled rules that name this company number or this sender."""
    rows = session.execute(
        select(RuleRow.name, RuleRow.numbers, RuleRow.sender)
        .where(RuleRow.account_id == account_id, RuleRow.enabled.is_(True))
        .order_by(RuleRow.name)
    ).all()
    names = []
    for name, numbers, rule_sender in rows:
        if (number is not None and number in decode_list(numbers)) or (sender is not None and sender == rule_sender):
            names.append(name)
    return names


def remove_number(session: Session, raw: str, account_name: str, *, field: str | None = None) -> str:
    account = get_account(session, account_name)
    e164 = to_e164(raw, account.country, field=field)
    number = session.scalar(
        select(CompanyNumber).where(CompanyNumber.e164 == e164, CompanyNumber.account_id == account.id)
    )
    if number is None:
        raise NotFound(f"number {e164} is not a number of account {account.name!r}")
    users = enabled_rules_using(session, account.id, number=e164)
    if users:
        raise Refused(f"number {e164} is used by enabled rules of account {account.name!r}: {', '.join(users)}")
    session.delete(number)
    session.flush()
    return e164


def add_sender(session: Session, sender: str, account_name: str, *, field: str | None = None) -> Sender:
    account = get_account(session, account_name)
    sender = checked(field, check_sender_id, sender)
    if session.scalar(select(Sender.id).where(Sender.account_id == account.id, Sender.sender == sender)):
        raise AlreadyExists(f"sender {sender!r} already belongs to account {account.name!r}")
    row = Sender(account_id=account.id, sender=sender)
    session.add(row)
    session.flush()
    return row


def list_senders(session: Session, account_name: str | None = None) -> Sequence[tuple[str, str]]:
    """(sender, account name) pairs, of one account or of all."""
    return _with_account_names(session, Sender.sender, Sender.account_id, account_name)


def remove_sender(session: Session, sender: str, account_name: str) -> None:
    account = get_account(session, account_name)
    row = None
    if can_be_stored(sender, SENDER_MAX_CHARS):
        row = session.scalar(select(Sender).where(Sender.account_id == account.id, Sender.sender == sender))
    if row is None:
        raise NotFound(f"sender {sender!r} is not a sender of account {account.name!r}")
    users = enabled_rules_using(session, account.id, sender=sender)
    if users:
        raise Refused(f"sender {sender!r} is used by enabled rules of account {account.name!r}: {', '.join(users)}")
    session.delete(row)
    session.flush()
