"""Candidate strategies: neighbours of the cost model's choice, one decision at a time.

What is legal is asked of the kernel's schedule, never re-stated here: a candidate is a set
of fixed decisions run through the schedule's `choose` (the decisions it does not fix follow
the cost model) and `check`, exactly as a strategy file is (select_strategies). Each
decision is moved in two forms:

- alone: the rest of the default kept as it is (only that decision changes);
- with its followers: only that decision fixed, the later decisions re-chosen by the cost
  model for it (a narrower register block gets the tile columns that fit it).

The values tried for an integer decision are the legal ones nearest half and twice its
default, then the nearest below and above it; a boolean decision is flipped. Candidates are
resolved to every decision (what is compiled and measured is what a strategy file then
fixes), duplicates dropped, and taken round-robin over the decisions up to a limit, so a
small limit still moves each decision once before any twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Mapping

from ..schedules import SCHEDULES, Kernel
from ..schedules.strategy import Decision, Value
from ..targets import Target

Decisions = dict[str, Value]


@dataclass(frozen=True)
class Candidate:
    decisions: Decisions
    label: str            # what differs from the default, e.g. "pixels 14->7 cols 28->14"


def changes(default: Mapping[str, Value], decisions: Mapping[str, Value]) -> str:
    """The decisions that differ, `name old->new`, in the schedule's order."""
    return " ".join(f"{name} {json_value(default[name])}->{json_value(value)}"
                    for name, value in decisions.items() if value != default[name])


def json_value(value: Value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def resolve(k: Kernel, t: Target, fixed: Mapping[str, Value]) -> Decisions | None:
    """Every decision of the kernel with `fixed` given, or None if its schedule refuses
    them. Anything the schedule raises is a refusal: values scanned blindly (a block of
    0 pixels) may trip a cost-model function before check() can say why."""
    schedule = SCHEDULES[k.kind]
    try:
        chosen = schedule.choose(k, t, dict(fixed))
        schedule.check(k, t, chosen)
    except Exception:
        return None
    return {d.name: chosen[d.name] for d in schedule.decisions}


def scan_limit(default: int) -> int:
    """Values scanned for a legal neighbour: up to a little over twice the default (and a
    few for a default of 0, e.g. no depthwise bands, whose bands start at a block)."""
    return max(2 * default + 2, 16)


def forms(default: Decisions, name: str, value: Value) -> list[Decisions]:
    return [default | {name: value}, {name: value}]


def integer(value: Value) -> int:
    """An integer decision's value (Value also spans the facts' strings and lists)."""
    assert isinstance(value, int)
    return value


def legal_values(k: Kernel, t: Target, default: Decisions, name: str) -> list[int]:
    current = integer(default[name])
    return [v for v in range(scan_limit(current) + 1)
            if v != current
            and any(resolve(k, t, f) is not None for f in forms(default, name, v))]


def nearest(values: list[int], target: float) -> int | None:
    return min(values, key=lambda v: (abs(v - target), v), default=None)


def neighbour_values(k: Kernel, t: Target, default: Decisions, decision: Decision) -> list[Value]:
    """The values to try for one decision, nearest first."""
    if decision.type is bool:
        return [not default[decision.name]]
    current = integer(default[decision.name])
    legal = legal_values(k, t, default, decision.name)
    below = [v for v in legal if v < current]
    above = [v for v in legal if v > current]
    # Halving and doubling first: the nearest legal value is often a ragged block (13 of 14
    # pixels), which the cost model already weighed; a limit then keeps the larger moves.
    picks = [nearest(below, current / 2), nearest(above, 2 * current),
             max(below, default=None), min(above, default=None)]
    return list(dict.fromkeys(v for v in picks if v is not None))


def per_decision(k: Kernel, t: Target, default: Decisions) -> list[list[Decisions]]:
    """For each decision, the resolved strategies of moving it, nearest value first."""
    moves = []
    for decision in SCHEDULES[k.kind].decisions:
        found = []
        for value in neighbour_values(k, t, default, decision):
            found += [r for f in forms(default, decision.name, value)
                      if (r := resolve(k, t, f)) is not None]
        moves.append(found)
    return moves


def candidates(k: Kernel, t: Target, default: Decisions, limit: int) -> list[Candidate]:
    """Up to `limit` distinct strategies other than the default, round-robin over the
    decisions."""
    seen = [default]
    picked: list[Candidate] = []
    for row in zip_longest(*per_decision(k, t, default)):
        for decisions in row:
            if decisions is None or decisions in seen:
                continue
            seen.append(decisions)
            picked.append(Candidate(decisions, changes(default, decisions)))
            if len(picked) == limit:
                return picked
    return picked
