"""Exponential backoff (pure): the one formula behind AMI reconnects, SMS retries and database retries.

Delay ``n`` (0-based) has the ceiling ``min(cap_s, base_s * 2**n)``; the jitter mode says how much of
it is random, so that many processes that failed together do not come back together:

- ``NONE``: the ceiling itself (a single process retrying its own work, e.g. a database outage);
- ``EQUAL``: uniform in [ceiling/2, ceiling], so no delay is below ``base_s / 2`` (AMI reconnects);
- ``FULL``: uniform in [0, ceiling] (SMS retries after a gateway outage).

The random source is passed in (anything with ``random() -> float`` in [0, 1)), so tests are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

# 2**60 times any sensible base is far past every cap; bounding it avoids a float overflow.
_MAX_EXPONENT = 60


class Jitter(StrEnum):
    NONE = "none"
    EQUAL = "equal"
    FULL = "full"


class RandomSource(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float
    cap_s: float
    jitter: Jitter = Jitter.FULL

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError(f"backoff: expected 0 < base_s <= cap_s, got base_s={self.base_s} cap_s={self.cap_s}")

    def ceiling_s(self, attempt: int) -> float:
        """The largest delay after ``attempt`` failures before this one (0 = the first retry)."""
        if attempt < 0:
            raise ValueError(f"backoff attempt: expected 0 or more, got {attempt}")
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, _MAX_EXPONENT))

    def delay_s(self, attempt: int, rand: RandomSource) -> float:
        """The delay to wait before retry number ``attempt`` (0-based)."""
        ceiling_s = self.ceiling_s(attempt)
        if self.jitter is Jitter.NONE:
            return ceiling_s
        if self.jitter is Jitter.EQUAL:
            return ceiling_s / 2 + rand.random() * ceiling_s / 2
        return rand.random() * ceiling_s
