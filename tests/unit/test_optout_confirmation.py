"""The opt-out confirmation: the Gate's one, narrow exception to an opt-out, and one per number per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pbx_sms.core.reasons import Reason
from pbx_sms.outbox.decisions import OPTOUT_CONFIRMATION_RULE_ID, AccountLimits, Candidate, Facts, Gate, local_day
from pbx_sms.outbox.optout_confirmation import confirmation_call_id, confirmation_sms

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
A = "+48601000001"
TODAY = local_day(1, NOW, "UTC")


def _candidate(rule_id: int, to: str = A) -> Candidate:
    return Candidate(1, rule_id, to, True, 0, NOW, to)


def _facts(optouts: set[tuple[int | None, str]], *, limits: AccountLimits | None = None, sent: int = 0) -> Facts:
    return Facts({1: limits or AccountLimits()}, frozenset(optouts), {TODAY: sent})


def test_the_confirmation_passes_the_numbers_opt_out_of_the_account_and_an_ordinary_sms_does_not() -> None:
    optouts = {(1, A)}
    assert Gate(reserve=True).decide(_candidate(OPTOUT_CONFIRMATION_RULE_ID), _facts(optouts)) is None
    assert Gate(reserve=True).decide(_candidate(1), _facts(optouts)) == Reason.OPTED_OUT


def test_a_global_opt_out_still_blocks_the_confirmation() -> None:
    assert Gate(reserve=True).decide(_candidate(OPTOUT_CONFIRMATION_RULE_ID), _facts({(None, A)})) == Reason.OPTED_OUT


def test_every_other_limit_still_applies_to_the_confirmation() -> None:
    off = _facts({(1, A)}, limits=AccountLimits(sms_enabled=False))
    assert Gate(reserve=True).decide(_candidate(OPTOUT_CONFIRMATION_RULE_ID), off) == Reason.SERVICE_INACTIVE
    capped = _facts({(1, A)}, limits=AccountLimits(daily_cap=1), sent=1)
    assert Gate(reserve=True).decide(_candidate(OPTOUT_CONFIRMATION_RULE_ID), capped) == Reason.DAILY_CAP


def test_one_confirmation_per_number_per_day_by_the_outbox_key() -> None:
    first = confirmation_sms(1, A, "+48221234567", "Wypisano.", NOW)
    later = confirmation_sms(1, A, "+48221234567", "Wypisano.", NOW + timedelta(hours=11))
    tomorrow = confirmation_sms(1, A, "+48221234567", "Wypisano.", NOW + timedelta(hours=12))
    key = (first.rule_id, first.pbx, first.call_id, first.to)
    assert key == (later.rule_id, later.pbx, later.call_id, later.to)
    assert tomorrow.call_id == confirmation_call_id(NOW + timedelta(days=1)) != first.call_id
    assert (first.encoding, first.parts) == ("GSM-7", 1)
