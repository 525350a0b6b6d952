"""Tuning one kernel group, a step at a time: compile the neighbours of the best strategy so
far, screen them, and take one only if it beats the best so far by the margin again when
re-measured.

A step: its candidates are compiled and checked against the default's output; the screen
times the default, the best so far (once it is not the default) and every candidate,
interleaved (timing.interleaved); the confirmation times the default, the best so far and
the few candidates that beat the best so far by the margin, in new rounds; the fastest
of those wins if it again beats the best so far (and the default) by the margin. Anything
less keeps the best so far, unless those rounds show it no longer beating the default by
the margin: then the default. So tuning does not make a kernel slower than the cost
model's choice beyond noise. The first step starts from the default; a few more
(refinements) from the winner, while the budget lasts. The default is in every
measurement: its time and the winner's come from the same rounds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..targets import Target
from .budget import Deadline, StepClock
from .builds import Build, Workspace, disagreement, try_build
from .candidates import Candidate, Decisions, candidates, changes
from .network import KernelGroup
from .timing import Timed, interleaved

Log = Callable[[str], None]


@dataclass(frozen=True)
class Protocol:
    margin: float = 0.03          # a candidate must be this much faster, screened and confirmed
    max_candidates: int = 16      # per step
    default_rounds: int = 5       # every group's default, once, for their shares
    screen_rounds: int = 5
    confirm_rounds: int = 9
    contenders: int = 3           # re-measured candidates
    refinements: int = 2          # steps from a winner, after every group's first step


# What became of a group, as the table says it.
TUNED, KEPT, CACHED, SKIPPED, OUT_OF_TIME = "tuned", "kept", "cached", "skipped", "out of time"


@dataclass
class Outcome:
    group: KernelGroup
    status: str
    note: str = ""
    default_ms: float | None = None
    best_ms: float | None = None
    best: Decisions | None = None     # None: the default
    measured: int = 0                 # candidates compiled besides the default
    share_ms: float = 0.0             # default ms x layers when the groups were ordered

    @property
    def default(self) -> Decisions:
        return self.group.first.decisions

    @property
    def winner(self) -> Decisions:
        return self.best if self.best is not None else self.default

    @property
    def changed(self) -> str:
        return changes(self.default, self.winner)

    @property
    def complete(self) -> bool:
        """Measured to the end of a step: worth caching."""
        return self.status in (TUNED, KEPT)


@dataclass
class Session:
    """What the groups of one run share."""
    target: Target
    deadline: Deadline
    protocol: Protocol
    log: Log
    compile_clock: StepClock = field(default_factory=lambda: StepClock(first=3.0))


@dataclass
class Search:
    """One group's search: its builds of the default and of the best strategy so far, the
    strategies already tried (never tried twice) and the outcome so far."""
    group: KernelGroup
    ws: Workspace
    default: Build
    outcome: Outcome
    best: Build | None = None         # None: the default
    tried: list[Decisions] = field(default_factory=list)
    steps: int = 0

    @property
    def incumbent(self) -> Build:
        return self.best if self.best is not None else self.default


DEFAULT, BEST = "(default)", "(best so far)"


def fresh_candidates(s: Session, search: Search) -> list[Candidate]:
    nk = search.group.first
    found = [c for c in candidates(nk.kernel, s.target, search.incumbent.decisions,
                                   s.protocol.max_candidates + len(search.tried))
             if c.decisions not in search.tried and c.decisions != nk.decisions]
    found = found[:s.protocol.max_candidates]
    search.tried += [c.decisions for c in found]
    return found


def build_all(s: Session, search: Search,
              chosen: list[Candidate]) -> tuple[dict[str, Build], bool]:
    """The candidates' builds whose outputs agree with the default's, keyed by label, and
    whether all were tried before the deadline. Failures are logged with their reason."""
    builds: dict[str, Build] = {}
    for candidate in chosen:
        if not s.deadline.allows(s.compile_clock.estimate()):
            return builds, False
        search.outcome.measured += 1     # also numbers the build's folder (the default's: 0)
        result = try_build(search.ws, candidate.decisions, search.outcome.measured)
        if isinstance(result, str):
            s.log(f"  {search.group.first.layer}: {candidate.label}: {result}")
            continue
        s.compile_clock.record(result.compile_s)
        wrong = disagreement(result, search.default)
        if wrong is not None:
            s.log(f"  {search.group.first.layer}: {candidate.label}: wrong result ({wrong})")
            continue
        builds[candidate.label] = result
    return builds, True


def contenders(screen: dict[str, float], bar_label: str, p: Protocol) -> list[str]:
    """The best few candidates that beat `bar_label` by the margin."""
    bar = screen[bar_label] * (1 - p.margin)
    beating = sorted((ms, label) for label, ms in screen.items()
                     if label not in (DEFAULT, BEST) and ms < bar)
    return [label for _, label in beating[:p.contenders]]


def race(search: Search, builds: dict[str, Build]) -> dict[str, Timed]:
    timed = {DEFAULT: search.default.timed}
    if search.best is not None:
        timed[BEST] = search.best.timed
    return timed | {label: b.timed for label, b in builds.items()}


def step(s: Session, search: Search) -> bool:
    """One step from the best strategy so far; updates the outcome. Returns whether it
    found a better one (another step may then pay)."""
    search.steps += 1
    first = search.steps == 1
    chosen = fresh_candidates(s, search)
    builds, finished = build_all(s, search, chosen)
    if not finished:
        return stopped(search, first, "compiling candidates")
    if not builds:
        if first:
            search.outcome.status = KEPT
            search.outcome.note = "no candidate built" if chosen else "no candidate"
            search.outcome.best_ms = search.outcome.default_ms
        return False
    timed = race(search, builds)
    screen = interleaved(timed, s.protocol.screen_rounds, s.deadline)
    if screen is None:
        return stopped(search, first, "screening")
    bar = BEST if search.best is not None else DEFAULT
    best = contenders(screen, bar, s.protocol)
    if not best:
        if first:
            settle(search.outcome, KEPT, screen[DEFAULT], screen[DEFAULT], None)
        return False
    confirm = interleaved({label: timed[label] for label in (DEFAULT, BEST, *best)
                           if label in timed}, s.protocol.confirm_rounds, s.deadline)
    if confirm is None:
        return stopped(search, first, "confirming")
    return confirmed(search, builds, confirm, best, bar, s.protocol)


def stopped(search: Search, first: bool, where: str) -> bool:
    """The budget ended during a step: a first step leaves the group unfinished (and
    uncached); a later one leaves the winner of the steps before."""
    if first:
        search.outcome.status, search.outcome.note = OUT_OF_TIME, where
    return False


def settle(o: Outcome, status: str, default_ms: float, best_ms: float,
           best: Decisions | None) -> None:
    o.status, o.default_ms, o.best_ms, o.best = status, default_ms, best_ms, best
    o.note = ""


def confirmed(search: Search, builds: dict[str, Build], confirm: dict[str, float],
              best: list[str], bar: str, p: Protocol) -> bool:
    label = min(best, key=lambda lbl: confirm[lbl])
    o = search.outcome
    beats = confirm[label] < (1 - p.margin) * min(confirm[bar], confirm[DEFAULT])
    if beats:
        search.best = builds[label]
        settle(o, TUNED, confirm[DEFAULT], confirm[label], search.best.decisions)
        return True
    if search.best is not None and confirm[BEST] < confirm[DEFAULT] * (1 - p.margin):
        o.default_ms, o.best_ms = confirm[DEFAULT], confirm[BEST]
        return False
    # The best so far no longer beats the default by the margin in these rounds: the
    # evidence for it was noise as likely as not, and the default is the safe side.
    again = search.best is not None
    search.best = None
    settle(o, KEPT, confirm[DEFAULT], confirm[DEFAULT], None)
    o.note = "not confirmed again" if again else "not confirmed"
    return False
