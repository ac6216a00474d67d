"""The account's delivery total from its rules' figures (the one computation the API, CLI and panel use)."""

from __future__ import annotations

import pytest

from pbx_sms.manage.delivery import DeliveryTotal, delivery_total
from pbx_sms.storage.delivery_reports import DeliveryRate


def rule(rule_id: int, sent: int, delivered: int, undelivered: int) -> DeliveryRate:
    pending = sent - delivered - undelivered
    return DeliveryRate(
        rule_id=rule_id,
        rule_name=f"rule {rule_id}",
        sent=sent,
        delivered=delivered,
        undelivered=undelivered,
        pending=pending,
    )


def test_the_total_sums_the_rules_and_its_rate_is_of_the_sums() -> None:
    total = delivery_total([rule(1, 1000, 900, 100), rule(2, 2, 0, 1)])
    assert total == DeliveryTotal(sent=1002, delivered=900, undelivered=101, pending=1)
    # Of the sums (900 / 1001), not the mean of 90 % and 0 %.
    assert total.rate == pytest.approx(900 / 1001)


def test_no_rules_or_nothing_final_has_no_rate() -> None:
    assert delivery_total([]) == DeliveryTotal(0, 0, 0, 0)
    assert delivery_total([]).rate is None
    assert delivery_total([rule(1, 3, 0, 0)]).rate is None
    assert delivery_total([rule(1, 3, 0, 3)]).rate == 0.0
