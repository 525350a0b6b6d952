"""Timing bound calls of compiled kernels, interleaved, as they would run inside a network.

A kernel alone, called in a loop, finds its weights in L2 on every call after the first;
inside a network, the layers in between have evicted them (MobileNetV2 streams 14 MB of
weights per inference), while its input was just written by the layer before. So each
timed call is preceded by reading a buffer of twice the L2 cache (the weights leave L2)
and then the kernel's inputs (they come back): prefetching and tile sizes are judged on
the cache state they meet in the network. (With several threads only the calling thread's
core is evicted.)

Candidates are timed in rounds, A B C A B C ..., each round a few calls of each, starting
at a different candidate every round, so a disturbance (another process, a frequency
change) hits all of them alike; a candidate's time is the median over rounds of its
round medians.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .budget import Deadline

# Without a size in sysfs: the L2 of recent x86 server cores.
FALLBACK_L2_BYTES = 2 * 1024 * 1024


def l2_bytes() -> int:
    """The L2 cache of cpu0, from sysfs."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() == "2":
                size = (index / "size").read_text().strip()     # e.g. "2048K"
                scale = {"K": 1024, "M": 1024 * 1024}.get(size[-1:], 1)
                return int(size.rstrip("KM")) * scale
        except (OSError, ValueError):
            continue
    return FALLBACK_L2_BYTES


@dataclass
class Timed:
    """One callable to time: the call and the input arrays it reads."""
    call: Callable[[], None]
    inputs: Sequence[np.ndarray]


class Evictor:
    """Brings the cache to a network's state before a call (see the module's docstring)."""

    def __init__(self) -> None:
        self.scratch = np.ones(2 * l2_bytes() // 4, np.float32)

    def prepare(self, inputs: Sequence[np.ndarray]) -> None:
        self.scratch.sum()
        for array in inputs:
            array.sum()


@dataclass(frozen=True)
class Plan:
    rounds: int
    calls: dict[str, int]        # calls per round, by candidate
    seconds: float               # the whole measurement, estimated


# Time spent on each candidate per round, and the bounds on its calls per round.
ROUND_S = 0.02
MIN_CALLS, MAX_CALLS = 3, 40


def sample(evictor: Evictor, timed: Timed) -> float:
    evictor.prepare(timed.inputs)
    start = time.perf_counter()
    timed.call()
    return time.perf_counter() - start


def plan(evictor: Evictor, candidates: dict[str, Timed], rounds: int) -> Plan:
    """Calls per round from one warm-up call and one probe of each (and of the eviction)."""
    start = time.perf_counter()
    evictor.prepare([])
    evict_s = time.perf_counter() - start
    calls, seconds = {}, 0.0
    for name, timed in candidates.items():
        timed.call()
        once = sample(evictor, timed)
        calls[name] = max(MIN_CALLS, min(MAX_CALLS, round(ROUND_S / max(once, 1e-7))))
        seconds += rounds * calls[name] * (once + evict_s)
    return Plan(rounds, calls, seconds)


def interleaved(candidates: dict[str, Timed], rounds: int,
                deadline: Deadline) -> dict[str, float] | None:
    """Milliseconds per call of each candidate (see the module's docstring); None if the
    measurement would not end before the deadline (nothing is half-measured)."""
    if not candidates:
        return {}
    evictor = Evictor()
    p = plan(evictor, candidates, rounds)
    if not deadline.allows(p.seconds):
        return None
    names = list(candidates)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        if deadline.passed():
            return None
        for name in names[r % len(names):] + names[:r % len(names)]:
            times = [sample(evictor, candidates[name]) for _ in range(p.calls[name])]
            medians[name].append(statistics.median(times))
    return {name: 1e3 * statistics.median(m) for name, m in medians.items()}
