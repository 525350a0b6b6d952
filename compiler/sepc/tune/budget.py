"""The time budget of a tuning run (--budget-s): every step asks before it starts."""
from __future__ import annotations

import time

# Kept back from the budget for what follows the last measurement: writing the strategy
# file and the cache, printing the table.
RESERVE_S = 2.0
RESERVE_SHARE = 0.02


class Deadline:
    def __init__(self, budget_s: float, start: float | None = None) -> None:
        start = time.monotonic() if start is None else start
        reserve = min(RESERVE_S, RESERVE_SHARE * budget_s)
        self.end = start + budget_s - reserve

    def left(self) -> float:
        return self.end - time.monotonic()

    def allows(self, seconds: float) -> bool:
        """Whether a step of about `seconds` ends before the deadline."""
        return self.left() >= seconds

    def passed(self) -> bool:
        return self.left() <= 0


class StepClock:
    """How long the next step of a kind (a compile) takes: the slowest seen so far, with a
    margin; `first` until one has been seen."""

    MARGIN = 1.25

    def __init__(self, first: float) -> None:
        self.slowest = 0.0
        self.first = first

    def estimate(self) -> float:
        return self.MARGIN * self.slowest if self.slowest else self.first

    def record(self, seconds: float) -> None:
        self.slowest = max(self.slowest, seconds)
