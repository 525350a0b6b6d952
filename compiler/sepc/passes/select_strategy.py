"""select-strategy: choose every kernel's strategy for the target (its schedule's cost model,
with the decisions a strategy file fixes) and write it onto the kernel's root op as
`sep.strategy` (schedules/strategy.py). The transform scripts read nothing else."""
from mlir import ir

from ..schedules import select_strategies
from ..schedules.strategy import NO_OVERRIDES, load_overrides
from ..targets import resolve_target
from .registry import module_pass


@module_pass("select-strategy")
def select_strategy(module: ir.Operation, *, target: str = "host", strategy_file: str = "") -> None:
    """Write each kernel's strategy for `target` onto its root op (overrides: a strategy file).

    target: a target row's name (or host).
    strategy_file: a JSON strategy file whose decisions override the cost model's."""
    overrides = load_overrides(strategy_file) if strategy_file else NO_OVERRIDES
    select_strategies(module, resolve_target(target), overrides)
