"""Test support for the outbox: a store plus the configuration it reads (accounts, opt-outs).

``MemoryWorld`` and ``SqlWorld`` give the contract tests one way to set up both implementations.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pbx_sms.core.delivery import Delivery, DeliveryStatus
from pbx_sms.db.config_tables import Account, OptOut
from pbx_sms.db.engine import Database
from pbx_sms.outbox.decisions import AccountLimits
from pbx_sms.outbox.memory import MemoryOutbox
from pbx_sms.outbox.model import NewSms
from pbx_sms.outbox.sql import SqlOutbox
from pbx_sms.storage.database import open_database
from pbx_sms.storage.delivery_reports import record_report

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
_calls = itertools.count(1)


def sms(
    account_id: int,
    *,
    rule_id: int = 1,
    to: str = "+48601000001",
    other_party: str | None = None,
    call_id: str | None = None,
    due_at: datetime = T0,
    call_ended_at: datetime | None = None,
    **extra: object,
) -> NewSms:
    """One SMS as the matcher would plan it (each call gets a fresh call id unless given)."""
    values: dict[str, object] = {
        "account_id": account_id,
        "rule_id": rule_id,
        "rule_name": f"rule {rule_id}",
        "call_id": call_id or f"call-{next(_calls)}",
        "other_party": other_party or to,
        "call_ended_at": call_ended_at or due_at - timedelta(seconds=60),
        "to": to,
        "sender": "ACME",
        "text": "Dziękujemy za rozmowę",
        "encoding": "UCS-2",
        "parts": 1,
        "due_at": due_at,
    }
    values.update(extra)
    return NewSms(**values)  # type: ignore[arg-type]


class MemoryWorld:
    def __init__(self) -> None:
        self.store = MemoryOutbox()
        self._ids = itertools.count(1)

    def account(self, limits: AccountLimits | None = None) -> int:
        account_id = next(self._ids)
        self.store.set_limits(account_id, limits or AccountLimits())
        return account_id

    def optout(self, number: str, account_id: int | None = None) -> None:
        self.store.add_optout(number, account_id)

    def set_limits(self, account_id: int, limits: AccountLimits) -> None:
        self.store.set_limits(account_id, limits)

    def report(self, gateway: str, message_id: str, status: DeliveryStatus, code: str | None, at: datetime) -> None:
        """A provider's delivery report (one per message here: the twin keeps what it is given)."""
        self.store.set_delivery(gateway, message_id, Delivery(status, at, code))


@dataclass
class SqlWorld:
    database: Database
    store: SqlOutbox = field(init=False)

    def __post_init__(self) -> None:
        self.store = SqlOutbox(self.database.engine)

    def account(self, limits: AccountLimits | None = None) -> int:
        limits = limits or AccountLimits()
        with self.database.session() as session:
            account = Account(
                name=f"acct-{uuid.uuid4().hex[:8]}",
                timezone=limits.timezone,
                country="PL",
                allowed_countries="PL",
                sms_enabled=limits.sms_enabled,
                daily_cap=limits.daily_cap,
            )
            session.add(account)
            session.flush()
            return account.id

    def optout(self, number: str, account_id: int | None = None) -> None:
        with self.database.session() as session:
            session.add(OptOut(e164=number, account_id=account_id))

    def set_limits(self, account_id: int, limits: AccountLimits) -> None:
        with self.database.session() as session:
            account = session.get(Account, account_id)
            assert account is not None
            account.sms_enabled = limits.sms_enabled
            account.daily_cap = limits.daily_cap
            account.timezone = limits.timezone

    def report(self, gateway: str, message_id: str, status: DeliveryStatus, code: str | None, at: datetime) -> None:
        with self.database.write_session() as session:
            record_report(session, gateway, message_id, status.value, code, at)


@contextmanager
def sql_world(database_url: str) -> Iterator[SqlWorld]:
    database = open_database(database_url)
    try:
        yield SqlWorld(database)
    finally:
        database.close()
