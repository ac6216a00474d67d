"""Two views of one call (pure): which is the truth, when they disagree, when a hook's view waits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pbx_sms.core.call import CompletedCall, Evidence
from pbx_sms.core.rules import EVIDENCE_KINDS
from pbx_sms.core.views import VIEW_RANK, is_better_view, views_disagree, wait_for_better_view_since

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CALL = CompletedCall("1.1", "in", "+48221234567", "+48601234567", "answered", 31, NOW - timedelta(seconds=40), NOW)


def view(evidence: Evidence, **changes: object) -> CompletedCall:
    return replace(CALL, evidence=evidence, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("better", "worse"),
    [("full", "hook"), ("full", "hint"), ("hook", "gap"), ("hook", "cdr"), ("gap", "hint"), ("cdr", "hint")],
)
def test_the_better_evidence_wins_whichever_came_first(better: Evidence, worse: Evidence) -> None:
    assert is_better_view(view(better), view(worse))
    assert not is_better_view(view(worse), view(better))


@pytest.mark.parametrize("evidence", ["full", "hook", "gap", "cdr", "hint"])
def test_an_equal_view_never_replaces_the_first(evidence: Evidence) -> None:
    assert not is_better_view(view(evidence, talk_s=3), view(evidence))


def test_every_evidence_is_ranked_and_rules_list_them_best_first() -> None:
    assert set(VIEW_RANK) == set(EVIDENCE_KINDS)
    assert list(EVIDENCE_KINDS) == sorted(EVIDENCE_KINDS, key=VIEW_RANK.__getitem__, reverse=True)


@pytest.mark.parametrize(
    "change",
    [{"status": "no_answer", "talk_s": 0}, {"talk_s": 4}, {"direction": "out"}, {"other_party": "anonymous"}],
)
def test_views_disagree_on_what_rules_look_at(change: dict[str, object]) -> None:
    assert views_disagree(view("full"), view("hint", **change))


def test_views_a_second_apart_in_time_agree() -> None:
    later = view(
        "hook", started_at=CALL.started_at + timedelta(seconds=1), ended_at=CALL.ended_at + timedelta(seconds=1)
    )
    assert not views_disagree(view("full"), later)


def test_a_hooks_view_waits_only_while_a_better_one_can_come() -> None:
    assert wait_for_better_view_since(NOW, 3.0, better_view_possible=True) == NOW - timedelta(seconds=3)
    assert wait_for_better_view_since(NOW, 3.0, better_view_possible=False) is None
    assert wait_for_better_view_since(NOW, 0.0, better_view_possible=True) is None
