"""Passes are plain functions on a module, registered under a name for pipelines and `sepc opt`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mlir import ir
from mlir.passmanager import PassManager


@dataclass(frozen=True)
class SepPass:
    name: str
    summary: str
    run: Callable[[ir.Operation], None]


PASSES: dict[str, SepPass] = {}


def sep_pass(name: str):
    """Register a function `f(module_op)` as the pass `name`; its docstring is the summary."""
    def register(fn):
        PASSES[name] = SepPass(name, (fn.__doc__ or "").strip().splitlines()[0], fn)
        return fn
    return register


def run_passes(module: ir.Module, names: list[str]) -> None:
    """Run registered passes through a PassManager so each is verified like an upstream pass."""
    pm = PassManager("builtin.module")
    for name in names:
        sep = PASSES[name]
        pm.add(lambda op, _pass, run=sep.run: run(op), name=sep.name)
    pm.run(module.operation)
