"""Do an account's SMS reach people: its delivery figures over the last days, per rule and in total.

One place for what the API (``/accounts/{account}/delivery``), `pbx-sms delivery` and the dashboard
show: the window, the per-rule figures (storage's ``delivery_rates``) and their total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pbx_sms.core.delivery import DeliveryFigures
from pbx_sms.storage.delivery_reports import DeliveryRate, delivery_rates

DEFAULT_DAYS = 7
MAX_DAYS = 90


# The account's figures: its rules' summed.
DeliveryTotal = DeliveryFigures


def delivery_total(rates: Iterable[DeliveryRate]) -> DeliveryTotal:
    """The account's figures from its rules' (pure). The rate is of the sums, not an average of the
    rules' rates: a rule with 1 SMS weighs as 1 SMS, not as much as one with 1000."""
    sent = delivered = undelivered = pending = 0
    for rate in rates:
        sent += rate.sent
        delivered += rate.delivered
        undelivered += rate.undelivered
        pending += rate.pending
    return DeliveryTotal(sent=sent, delivered=delivered, undelivered=undelivered, pending=pending)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    account: str
    since: datetime
    days: int
    total: DeliveryTotal
    rules: list[DeliveryRate]

    def to_json(self) -> dict[str, Any]:
        """The API's shape (``DeliveryOut``), for `pbx-sms delivery --json`."""
        return {
            "account": self.account,
            "since": self.since.isoformat(),
            "days": self.days,
            "total": _figures_json(self.total),
            "rules": [_figures_json(rule) for rule in self.rules],
        }


def _figures_json(figures: DeliveryFigures) -> dict[str, Any]:
    """The figures' fields (a rule's with its id and name) and their rate."""
    return {**asdict(figures), "rate": figures.rate}


def delivery_report(
    session: Session, account_id: int, account_name: str, now: datetime, days: int = DEFAULT_DAYS
) -> DeliveryReport:
    """The account's SMS sent in the last ``days`` × 24 hours before ``now`` (1 to ``MAX_DAYS``)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days: expected 1 to {MAX_DAYS}, got {days}")  # callers check it first
    since = now - timedelta(days=days)
    rules = delivery_rates(session, account_id, since)
    return DeliveryReport(account=account_name, since=since, days=days, total=delivery_total(rules), rules=rules)
