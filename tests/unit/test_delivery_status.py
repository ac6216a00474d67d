"""The delivery lifecycle: a final report is never replaced; any order of reports ends the same."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_sms.core.delivery import (
    FINAL_DELIVERY_STATUSES,
    REPORTED_STATUSES,
    DeliveryStatus,
    apply_reports,
    delivery_rate,
    http_status,
    shown_delivery,
    smsapi_status,
    supersedes,
    twilio_status,
)

INTERMEDIATE = sorted(REPORTED_STATUSES - FINAL_DELIVERY_STATUSES)
FINALS = sorted(FINAL_DELIVERY_STATUSES)


def test_a_later_stage_replaces_an_earlier_one() -> None:
    assert supersedes(DeliveryStatus.SENT, DeliveryStatus.QUEUED)
    assert supersedes(DeliveryStatus.DELIVERED, DeliveryStatus.SENT)
    assert supersedes(DeliveryStatus.QUEUED, None)


@pytest.mark.parametrize("final", FINALS)
@pytest.mark.parametrize("intermediate", INTERMEDIATE)
def test_a_final_is_never_replaced_by_an_intermediate(final: DeliveryStatus, intermediate: DeliveryStatus) -> None:
    assert not supersedes(intermediate, final)


def test_between_two_finals_the_first_recorded_stays() -> None:
    assert not supersedes(DeliveryStatus.UNDELIVERED, DeliveryStatus.DELIVERED)
    assert apply_reports([DeliveryStatus.EXPIRED, DeliveryStatus.DELIVERED]) == DeliveryStatus.EXPIRED


def test_the_same_status_again_changes_nothing() -> None:
    assert not supersedes(DeliveryStatus.SENT, DeliveryStatus.SENT)


def test_unknown_is_not_a_reported_status() -> None:
    with pytest.raises(ValueError, match="not a reported status"):
        supersedes(DeliveryStatus.UNKNOWN, None)


@given(
    st.lists(st.sampled_from(INTERMEDIATE), max_size=8),
    st.one_of(st.none(), st.sampled_from(FINALS)),
    st.randoms(use_true_random=False),
)
def test_any_permutation_of_reports_ends_in_the_same_state(
    intermediates: list[DeliveryStatus], final: DeliveryStatus | None, shuffler: random.Random
) -> None:
    reports = intermediates + ([final] if final is not None else [])
    shuffled = list(reports)
    shuffler.shuffle(shuffled)
    expected = final if final is not None else max(intermediates, key=INTERMEDIATE_ORDER.index, default=None)
    assert apply_reports(shuffled) == apply_reports(reports) == expected


INTERMEDIATE_ORDER = [DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.ACCEPTED]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("queued", DeliveryStatus.QUEUED),
        ("sending", DeliveryStatus.SENDING),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("undelivered", DeliveryStatus.UNDELIVERED),
        ("failed", DeliveryStatus.REJECTED),
        ("bogus", None),
    ],
)
def test_twilio_message_status(word: str, expected: DeliveryStatus | None) -> None:
    assert twilio_status(word) == expected


def test_smsapi_status_names() -> None:
    assert smsapi_status("DELIVERED") == DeliveryStatus.DELIVERED
    assert smsapi_status("undelivered") == DeliveryStatus.UNDELIVERED
    assert smsapi_status("EXPIRED") == DeliveryStatus.EXPIRED
    assert smsapi_status("REJECTED") == DeliveryStatus.REJECTED
    assert smsapi_status("NOPE") is None
    assert smsapi_status("UNKNOWN", "408") is None  # says nothing about the phone: not recorded


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("401", None),  # NOT_FOUND
        ("402", DeliveryStatus.EXPIRED),
        ("403", DeliveryStatus.SENT),
        ("404", DeliveryStatus.DELIVERED),
        ("405", DeliveryStatus.UNDELIVERED),
        ("406", DeliveryStatus.UNDELIVERED),  # FAILED
        ("407", DeliveryStatus.REJECTED),
        ("408", None),  # UNKNOWN
        ("409", DeliveryStatus.QUEUED),
        ("410", DeliveryStatus.ACCEPTED),
        ("411", None),  # RENEWAL
        ("412", DeliveryStatus.REJECTED),  # STOP
        ("999", None),
    ],
)
def test_smsapi_numeric_codes_when_no_name_came(code: str, expected: DeliveryStatus | None) -> None:
    assert smsapi_status("", code) == expected


def test_the_name_wins_over_the_code() -> None:
    assert smsapi_status("DELIVERED", "405") == DeliveryStatus.DELIVERED


@pytest.mark.parametrize("report", sorted(REPORTED_STATUSES))
def test_the_log_shows_a_final_report_else_unknown_when_sent_else_nothing(report: DeliveryStatus) -> None:
    final = report in FINAL_DELIVERY_STATUSES
    assert shown_delivery(report, sent=True) == (report if final else DeliveryStatus.UNKNOWN)
    assert shown_delivery(report, sent=False) == (report if final else None)
    assert shown_delivery(None, sent=True) == DeliveryStatus.UNKNOWN
    assert shown_delivery(None, sent=False) is None


def test_http_status_words_are_the_statuses() -> None:
    assert http_status("Delivered") == DeliveryStatus.DELIVERED
    assert http_status("unknown") is None


def test_the_delivery_rate_counts_only_final_reports() -> None:
    assert delivery_rate(3, 1) == 0.75
    assert delivery_rate(0, 2) == 0.0
    assert delivery_rate(0, 0) is None
