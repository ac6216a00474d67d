"""Opt-outs: numbers that must never be texted, by one account (account_id set) or by any (NULL)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from pbx_sms.db.config_tables import Account, OptOut
from pbx_sms.storage.accounts import get_account
from pbx_sms.storage.errors import AlreadyExists, NotFound
from pbx_sms.storage.numbers import to_e164


def _scope(session: Session, account_name: str | None, default_country: str) -> tuple[int | None, str]:
    """(account id or None for global, the country to read numbers with)."""
    if account_name is None:
        return None, default_country
    account = get_account(session, account_name)
    return account.id, account.country


def _match(account_id: int | None) -> ColumnElement[bool]:
    return OptOut.account_id.is_(None) if account_id is None else OptOut.account_id == account_id


def add_optout(
    session: Session, raw: str, account_name: str | None, default_country: str, *, field: str | None = None
) -> str:
    account_id, country = _scope(session, account_name, default_country)
    e164 = to_e164(raw, country, field=field)
    if session.scalar(select(OptOut.id).where(OptOut.e164 == e164, _match(account_id))) is not None:
        raise AlreadyExists(f"{e164} is already opted out ({account_name or 'globally'})")
    session.add(OptOut(e164=e164, account_id=account_id))
    session.flush()
    return e164


def remove_optout(
    session: Session, raw: str, account_name: str | None, default_country: str, *, field: str | None = None
) -> str:
    account_id, country = _scope(session, account_name, default_country)
    e164 = to_e164(raw, country, field=field)
    row = session.scalar(select(OptOut).where(OptOut.e164 == e164, _match(account_id)))
    if row is None:
        raise NotFound(f"{e164} is not opted out ({'account ' + repr(account_name) if account_name else 'globally'})")
    session.delete(row)
    session.flush()
    return e164


def list_optouts(session: Session, account_name: str | None = None) -> Sequence[tuple[str, str | None]]:
    """(E.164, account name or None for global) pairs; with an account: its own and the global ones."""
    query = select(OptOut.e164, Account.name).outerjoin(Account, OptOut.account_id == Account.id)
    if account_name is not None:
        account = get_account(session, account_name)
        query = query.where(or_(OptOut.account_id.is_(None), OptOut.account_id == account.id))
    rows = session.execute(query.order_by(OptOut.e164, Account.name)).all()
    return [(e164, name) for e164, name in rows]


def list_global_optouts(session: Session) -> list[str]:
    """The numbers opted out of every account, in order."""
    return list(session.scalars(select(OptOut.e164).where(_match(None)).order_by(OptOut.e164)))
