"""The limits gate (pure): reasons, their order, and what a batch reserves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pbx_sms.outbox.model import Reason
from pbx_sms.outbox.policy import AccountLimits, Candidate, Gate, local_day_bounds, within_min_interval

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


class Facts:
    def __init__(self, limits: AccountLimits, optouts: set[str] = frozenset(), sent: int = 0) -> None:  # type: ignore[assignment]
        self._limits, self._optouts, self._sent = limits, optouts, sent
        self.last: dict[tuple[int, str], datetime] = {}

    def limits(self, account_id: int) -> AccountLimits:
        return self._limits

    def opted_out(self, account_id: int, number: str) -> bool:
        return number in self._optouts

    def sent_between(self, account_id: int, start: datetime, end: datetime) -> int:
        return self._sent

    def last_sent_at(self, rule_id: int, to: str) -> datetime | None:
        return self.last.get((rule_id, to))


def candidate(to: str = "+48601000001", *, other: bool = True, interval_s: int = 0) -> Candidate:
    return Candidate(1, 1, to, other, interval_s, NOW)


def test_reasons_in_order_service_optout_cap_interval() -> None:
    facts = Facts(AccountLimits(sms_enabled=False, daily_cap=0), {"+48601000001"})
    assert Gate(facts, reserve=True).decide(candidate()) == Reason.SERVICE_INACTIVE
    facts = Facts(AccountLimits(daily_cap=0), {"+48601000001"})
    assert Gate(facts, reserve=True).decide(candidate()) == Reason.OPTED_OUT
    assert Gate(facts, reserve=True).decide(candidate("+48601000009")) == Reason.DAILY_CAP


def test_a_reserving_batch_counts_its_own_approvals() -> None:
    gate = Gate(Facts(AccountLimits(daily_cap=3), sent=1), reserve=True)
    assert gate.decide_all([candidate(f"+4860100000{i}") for i in range(4)]) == [
        None,
        None,
        Reason.DAILY_CAP,
        Reason.DAILY_CAP,
    ]


def test_a_non_reserving_gate_only_checks() -> None:
    gate = Gate(Facts(AccountLimits(daily_cap=3), sent=1), reserve=False)
    assert gate.decide_all([candidate(f"+4860100000{i}") for i in range(4)]) == [None] * 4


def test_interval_applies_to_the_other_party_only() -> None:
    gate = Gate(Facts(AccountLimits()), reserve=True)
    assert gate.decide(candidate(interval_s=60)) is None
    assert gate.decide(candidate(interval_s=60)) == Reason.MIN_INTERVAL
    assert gate.decide(candidate(other=False, interval_s=60)) is None
    assert gate.decide(candidate(other=False, interval_s=60)) is None


def test_interval_boundary() -> None:
    assert within_min_interval(NOW - timedelta(seconds=59), 60, NOW)
    assert not within_min_interval(NOW - timedelta(seconds=60), 60, NOW)
    assert not within_min_interval(None, 60, NOW)
    assert not within_min_interval(NOW, 0, NOW)


def test_local_day_is_23_hours_on_the_spring_dst_change() -> None:
    start, end = local_day_bounds(NOW, "Europe/Warsaw")
    assert start.astimezone(UTC) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    late = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # 00:30 on the 30th in Warsaw
    assert local_day_bounds(late, "Europe/Warsaw")[0].astimezone(UTC) == end.astimezone(UTC)
