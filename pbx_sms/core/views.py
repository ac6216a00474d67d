"""Two reports of one call (pure): which view is the call's truth, whether they disagree, and whether to
wait for a better one before acting on it.

The AMI tracker and the hangup hook (spawned AGI script or FastAGI) may both report a call. The hook's
report comes first (Asterisk publishes the caller's Hangup only after its hangup handler ran), so the
order of arrival says nothing about quality; the evidence does. From the best to the worst:

- ``full``: the tracker saw every event of every leg (DialEnd, BridgeEnter, Cdr): it tells a person
  answering from a queue or IVR ``Answer()``, and its talk time starts when a person's leg joined.
- ``hook``: the caller's channel gave a definite result (the ``pbxsms-answered`` timestamp, a Dial()
  status, Queue()'s ANSWEREDTIME): exact for that channel, but blind to legs it did not see (a queue
  member without ``membergosub``), so it loses to ``full``.
- ``gap``: the tracker missed part of the stream (a reconnect): it may have missed the DialEnd or
  BridgeEnter that made the call answered, which the caller's channel still knew — so a definite
  hook view beats it.
- ``cdr``: the tracker knew the call only from its Cdr records and late events: a queue's or IVR's
  ``Answer()`` makes a Cdr ``ANSWERED`` with billable seconds, so status and talk time are doubtful;
  a definite hook view beats it, too.
- ``hint``: the hook had nothing definite (no Dial() or Queue() result, or an answer without its time)
  and reported a default: any tracker view knows more, even one from Cdr records only.

Two views of equal rank: the first stays (nothing to gain from switching).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from pbx_sms.core.call import CompletedCall, Evidence

VIEW_RANK: Final[dict[Evidence, int]] = {"full": 4, "hook": 3, "gap": 2, "cdr": 1, "hint": 0}
# The views a hangup hook reports; a call known only from one of them may still get the tracker's.
HOOK_EVIDENCE: Final = frozenset[Evidence]({"hook", "hint"})


def is_better_view(candidate: CompletedCall, current: CompletedCall) -> bool:
    """Whether ``candidate`` should replace ``current`` as the call's truth."""
    return VIEW_RANK[candidate.evidence] > VIEW_RANK[current.evidence]


def views_disagree(first: CompletedCall, second: CompletedCall) -> bool:
    """Whether two views of a call would be matched differently: what rules look at differs (start and
    end times are left out: the two sources take them a second or so apart)."""
    return (first.direction, first.number, first.other_party, first.status, first.talk_s) != (
        second.direction,
        second.number,
        second.other_party,
        second.status,
        second.talk_s,
    )


def wait_for_better_view_since(now: datetime, wait_s: float, better_view_possible: bool) -> datetime | None:
    """Calls known only from the hook and recorded after the returned time wait for the tracker's view
    before they are processed; None: nothing waits (no wait configured, or AMI is off or down, so no
    better view can come)."""
    if wait_s <= 0 or not better_view_possible:
        return None
    return now - timedelta(seconds=wait_s)
