"""`sepc tune`: measure candidate strategies of a network's kernels on this machine and
write the fastest into a strategy file for `sepc compile --strategy` (docs/tune.md).

1. The network's kernels and the cost model's decisions come from its strategy stage;
   kernels of one signature (the same code) form a group, tuned once (network.py).
2. Groups found in the cache take its result without measuring (cache.py).
3. Each other group's kernel is compiled alone (a sub-model of its layers) with the default
   strategy, and the defaults are timed together, which gives each group's share of the
   network: the budget goes to the largest shares first.
4. For each group in that order: candidates (candidates.py) are compiled, checked against
   the default's output, screened and confirmed (search.py); every step first asks the
   deadline whether it fits (budget.py), and the run stops cleanly when none does.
5. The strategy file holds the groups that found a faster strategy; the table lists all.
"""
from __future__ import annotations

import json
import platform
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..frontend.model_json import load_model
from ..targets import Target, missing_cpu_flags, resolve_target
from .budget import Deadline
from .builds import try_build, workspace
from .cache import Cache, Context, open_cache, run_context, write_atomically
from .network import (KernelGroup, Network, kernel_members, read_network, reproduces,
                      signature, sub_model)
from .report import strategy_text, table
from .search import (CACHED, KEPT, OUT_OF_TIME, SKIPPED, TUNED, Log, Outcome, Protocol,
                     Search, Session, step)
from .timing import interleaved

DEFAULT_BUDGET_S = 600.0
# Sub-models get random weights from this seed when --random-weights gives none: the
# values do not change the code or its speed.
SUB_MODEL_SEED = 0


@dataclass(frozen=True)
class Options:
    target: str = "host"
    threads: int = 1
    budget_s: float = DEFAULT_BUDGET_S
    cache: str | None = None           # None: cache.DEFAULT_PATH
    seed: int | None = None            # --random-weights: the network's weights
    protocol: Protocol = field(default_factory=Protocol)


def stderr_log(message: str) -> None:
    print(f"sepc tune: {message}", file=sys.stderr, flush=True)


def tunable_target(name: str) -> Target:
    """The target row, if kernels for it run, and run natively, on this machine."""
    target = resolve_target(name)
    if target.arch == "aarch64":
        raise UserError(f"sepc tune: --target {name}: tuning for ARM needs the qemu cost of "
                        "issue 15 (tuning measures kernels natively; x86 targets only for now)")
    if target.arch != platform.machine():
        raise UserError(f"sepc tune: --target {name}: builds for {target.arch}, this machine "
                        f"is {platform.machine()}")
    missing = missing_cpu_flags(target)
    if missing:
        raise UserError(f"sepc tune: --target {name}: this CPU lacks {', '.join(missing)}; "
                        "tune for a target it runs (host)")
    return target


def check_options(o: Options, target: Target) -> None:
    if isinstance(o.threads, bool) or not isinstance(o.threads, int) or o.threads < 1:
        raise UserError(f"sepc tune: --threads: expected a positive integer, got {o.threads}")
    if o.threads > 1 and not target.openmp:
        raise UserError(f"sepc tune: --threads {o.threads}: target {target.name} builds "
                        "single-threaded libraries")
    if not o.budget_s > 0:
        raise UserError(f"sepc tune: --budget-s: expected a positive number of seconds, "
                        f"got {o.budget_s}")


# --- groups ------------------------------------------------------------------------------

def group_kernels(net: Network, work: Path, seed: int) -> list[KernelGroup]:
    """Kernels by signature, in network order; each sub-model written to `work`."""
    members = kernel_members(net)
    groups: dict[str, KernelGroup] = {}
    for index, nk in enumerate(net.kernels):
        model = sub_model(net, members[nk.layer])
        path = work / f"signature{index}.json"
        path.write_text(json.dumps(model, indent=1))
        sig = signature(nk, load_model(str(path), seed))
        if sig in groups:
            groups[sig].kernels.append(nk)
        else:
            groups[sig] = KernelGroup(sig, [nk], model)
    return list(groups.values())


def cached_outcome(group: KernelGroup, entry: dict[str, Any] | None) -> Outcome | None:
    """The group's result from a cache entry measured for the same default."""
    if entry is None or entry.get("default") != group.first.decisions:
        return None
    best = entry.get("best")
    if not isinstance(best, dict) or set(best) != set(group.first.decisions):
        return None           # not an entry this version wrote: measure again
    best = best if best != group.first.decisions else None
    default_ms = entry.get("default_ms")
    return Outcome(group, CACHED, entry.get("status", ""), default_ms, entry.get("best_ms"),
                   best, entry.get("measured", 0), (default_ms or 0) * len(group.layers))


def cache_entry(o: Outcome, context: Context) -> dict[str, Any]:
    return {"layer": o.group.first.layer, "kind": o.group.first.kind, "status": o.status,
            "default": o.default, "best": o.winner, "default_ms": o.default_ms,
            "best_ms": o.best_ms, "measured": o.measured} | context.describe()


# --- the run -----------------------------------------------------------------------------

@dataclass
class Run:
    session: Session
    options: Options
    target: Target
    cache: Cache
    context: Context
    work: Path
    outcomes: dict[str, Outcome] = field(default_factory=dict)   # by signature

    def finish(self, outcome: Outcome) -> None:
        """Record the group's outcome so far (in the cache too once a step is complete)."""
        self.outcomes[outcome.group.signature] = outcome
        if outcome.complete:
            self.cache.put(self.context.key(outcome.group.signature),
                           cache_entry(outcome, self.context))


def prepare(run: Run, group: KernelGroup, index: int) -> Search | None:
    """The group's search with its default built, or None (its outcome says why)."""
    nk = group.first
    seed = run.options.seed if run.options.seed is not None else SUB_MODEL_SEED
    ws = workspace(run.work / f"group{index}", group.model, nk.layer, nk.kind, run.target.name,
                   run.options.threads, seed)
    why = reproduces(load_model(str(ws.model), seed), nk, run.target)
    if why is not None:
        run.finish(Outcome(group, SKIPPED, why))
        return None
    clock = run.session.compile_clock
    if not run.session.deadline.allows(clock.estimate()):
        run.finish(Outcome(group, OUT_OF_TIME, "compiling the default"))
        return None
    default = try_build(ws, nk.decisions, 0)
    if isinstance(default, str):
        run.finish(Outcome(group, SKIPPED, f"default build {default}"))
        return None
    clock.record(default.compile_s)
    return Search(group, ws, default, Outcome(group, OUT_OF_TIME, "not reached"))


def by_share(searches: list[Search]) -> list[Search]:
    return sorted(searches, key=lambda s: -s.outcome.share_ms)


def time_defaults(run: Run, searches: list[Search]) -> bool:
    """Every default, timed together: their shares of the network. False: no time."""
    defaults = interleaved({s.group.signature: s.default.timed for s in searches},
                           run.options.protocol.default_rounds, run.session.deadline)
    for s in searches:
        if defaults is None:
            s.outcome.note = "timing the defaults"
        else:
            s.outcome.default_ms = defaults[s.group.signature]
            s.outcome.share_ms = s.outcome.default_ms * len(s.group.layers)
        run.finish(s.outcome)
    return defaults is not None


def tune_groups(run: Run, groups: list[KernelGroup]) -> None:
    """A step for every group, largest share first; then, while the budget lasts, further
    steps for the groups whose last step found a better strategy."""
    searches = [s for i, g in enumerate(groups) if (s := prepare(run, g, i)) is not None]
    if not searches or not time_defaults(run, searches):
        return
    active = by_share(searches)
    for refinement in range(run.options.protocol.refinements + 1):
        improved = []
        for position, search in enumerate(active, start=1):
            if run.session.deadline.passed():
                return
            better = step(run.session, search)
            if better:
                improved.append(search)
            run.finish(search.outcome)
            run.session.log(progress(search.outcome, refinement, f"{position}/{len(active)}",
                                     better))
        active = improved


def progress(o: Outcome, refinement: int, position: str, better: bool) -> str:
    step_name = f"refinement {refinement}" if refinement else "step 1"
    result = o.status + (f", {o.changed}" if o.best is not None else "")
    if refinement:
        result += ", better" if better else ", no better neighbour"
    return (f"[{step_name} {position}] {o.group.first.layer} ({o.group.first.kind}, "
            f"{len(o.group.layers)} layer(s)): {result}")


def ordered_outcomes(run: Run, groups: list[KernelGroup]) -> list[Outcome]:
    """Largest share of the network first (the order of tuning), cached and skipped last."""
    return sorted((run.outcomes[g.signature] for g in groups if g.signature in run.outcomes),
                  key=lambda o: (o.status in (CACHED, SKIPPED), -o.share_ms))


def tune_file(model_path: str, out_path: str, options: Options = Options(),
              log: Log = stderr_log) -> list[Outcome]:
    """Tune the network in model_path and write the strategy file out_path; returns every
    group's outcome, in the table's order."""
    deadline = Deadline(options.budget_s)
    target = tunable_target(options.target)
    check_options(options, target)
    cache = open_cache(options.cache)
    context = run_context(target.name, options.threads)
    net = read_network(model_path, target, options.seed)
    with tempfile.TemporaryDirectory(prefix="sepc-tune-") as tmp:
        run = Run(Session(target, deadline, options.protocol, log), options, target, cache,
                  context, Path(tmp))
        groups = group_kernels(net, run.work, SUB_MODEL_SEED)
        log(f"{len(net.kernels)} kernels, {len(groups)} distinct; budget {options.budget_s:g} s")
        fresh = []
        for group in groups:
            hit = cached_outcome(group, cache.get(context.key(group.signature)))
            if hit is not None:
                run.outcomes[group.signature] = hit
            else:
                fresh.append(group)
        log(f"{len(groups) - len(fresh)} cached in {cache.path}, {len(fresh)} to measure")
        try:
            tune_groups(run, fresh)
        finally:
            outcomes = ordered_outcomes(run, groups)
            write_atomically(Path(out_path),
                             strategy_text(outcomes, [k.layer for k in net.kernels]))
    return outcomes


def command(model: str, out: str, options: Options) -> None:
    """sepc tune: tune, write the file, print the table."""
    outcomes = tune_file(model, out, options)
    sys.stdout.write(table(outcomes))
    tuned = sum(len(o.group.layers) for o in outcomes if o.winner != o.default)
    print(f"wrote {out}: {tuned} layer(s) with a tuned strategy")


__all__ = ["CACHED", "KEPT", "OUT_OF_TIME", "Options", "Outcome", "Protocol", "SKIPPED",
           "TUNED", "command", "tune_file"]
