"""The compilation pipeline as data: a list of named stages, each a list of steps.

A stage's name is what `--emit` prints after it. A step is one of: declared sepc passes with
their options (`passes`), an upstream MLIR pass pipeline (`mlir`), or a transform script
generated from the IR for the target (`transform`). Pass options that are machine facts
come from the target row here. The schedule "none" drops the transform steps, which gives
the plain untiled lowering the benchmarks compare against.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Union

from mlir import ir
from mlir.dialects.transform import interpreter
from mlir.passmanager import PassManager

from .passes.registry import PassSpec, run_passes
from .schedules.strategy import find_strategies
from .schedules import (serial_loops_script, tiling_script, vector_lowering_script,
                        vectorization_script)
from .targets import Target
from .weights_object import WeightBlob, externalize_weights


@dataclass
class Compilation:
    module: ir.Module
    target: Target
    schedule: str = "auto"
    strategy_file: str = ""       # decisions overriding the cost model's (select-strategy)
    profile: bool = False         # the instrumented build of `sepc profile` (insert-layer-timers)
    weights: list[WeightBlob] = field(default_factory=list)  # moved out of the IR


@dataclass(frozen=True)
class Passes:
    """Declared sepc passes with their options."""
    specs: list[PassSpec]


@dataclass(frozen=True)
class SelectStrategy:
    """select-strategy, its options the compilation's target and strategy file."""


@dataclass(frozen=True)
class Pipeline:
    """An upstream MLIR pass pipeline on the module."""
    text: str


@dataclass(frozen=True)
class ExtractWeights:
    """The large constants moved out of the IR (weights_object.py)."""


@dataclass(frozen=True)
class Transform:
    """A transform script generated from the compilation (skipped by the schedule "none")."""
    script: Callable[[Compilation], str]


@dataclass(frozen=True)
class TransformEachLayer:
    """A transform script generated for each layer function of outline-layers (and for the
    network's function, if layers are left in it), applied in a module of its own: a
    transform op that prints its payload for a diagnostic prints, verifies and numbers the
    whole module it is in, which made one script over the network quadratic in its size."""
    script: Callable[[ir.Operation, Target], str]


Step = Union[Passes, SelectStrategy, Pipeline, ExtractWeights, Transform, TransformEachLayer]


def passes(*specs: str | PassSpec) -> Step:
    return Passes([PassSpec(s) if isinstance(s, str) else s for s in specs])


def select_strategy() -> Step:
    """select-strategy for the compilation's target and strategy file."""
    return SelectStrategy()


def mlir(pipeline: str) -> Step:
    return Pipeline(pipeline)


def transform_each_layer(script: Callable[[ir.Operation, Target], str]) -> Step:
    return TransformEachLayer(script)


def extract_weights() -> Step:
    return ExtractWeights()


def transform(script: Callable[[Compilation], str]) -> Step:
    return Transform(script)


@dataclass(frozen=True)
class Stage:
    name: str
    steps: tuple[Step, ...]


GRAPH_PASSES = ("split-separable", "fold-batch-norm", "fold-rescaling", "fuse-activation",
                "verify-sep")

BUFFERIZE = ("eliminate-empty-tensors,"
             "one-shot-bufferize{bufferize-function-boundaries "
             "function-boundary-type-conversion=identity-layout-map},canonicalize")


# The layers outline-layers moved out, back into the network's function, and the cleanup
# the tiling script ends with (schedules/script.py) over the whole again, which merges the
# constants the layers had each.
INLINE_LAYERS = "inline{default-pipeline=},canonicalize,cse"


def deallocate(target: Target) -> str:
    """Frees, and the tile loops: parallel (OpenMP) where the target has it, else serial."""
    tile_loops = "scf-forall-to-parallel" if target.openmp else "scf-forall-to-for"
    return f"buffer-deallocation-pipeline,func.func({tile_loops}),cse,canonicalize"


def to_llvm(target: Target) -> tuple[Step, ...]:
    vector_options = ("{" + target.vector_dialect_options + "}"
                      if target.vector_dialect_options else "")
    loops = mlir("func.func(convert-linalg-to-loops),"
                 "convert-vector-to-scf{full-unroll=true},expand-strided-metadata,lower-affine")
    return (loops, *((passes("partition-parallel-loops"),) if target.openmp else ()), mlir(
            # convert-scf-to-openmp (the parallel loops partition-parallel-loops left) wraps
            # loop bodies in memref.alloca_scope, which must be inlined (canonicalize does,
            # as no body allocates) before scf becomes cf blocks.
            ("convert-scf-to-openmp,canonicalize," if target.openmp else "") +
            # No convert-math-to-libm: its scalar calls cover only the first 128 bits of a
            # scalable vector. The math ops left (floor, absf) are single instructions.
            "convert-scf-to-cf,"
            f"convert-vector-to-llvm{vector_options},finalize-memref-to-llvm,"
            "convert-math-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,"
            "convert-func-to-llvm{use-bare-ptr-memref-call-conv=true},convert-cf-to-llvm,"
            "convert-ub-to-llvm,"
            + ("convert-openmp-to-llvm," if target.openmp else "") +
            "reconcile-unrealized-casts"))


def fusion(target: Target) -> tuple[PassSpec, ...]:
    panel = {"panel-filters": target.line_floats}
    return ((PassSpec("fuse-separable", panel),) if target.tiling.fuse_separable else ()) \
        + ((PassSpec("pack-matmul-weights", panel),) if target.tiling.pack_matmul else ())


def prefetch(target: Target) -> PassSpec:
    return PassSpec("prefetch-next-panels", {"rows-ahead": target.memory.prefetch_rows_ahead,
                                             "line-floats": target.line_floats})


def layer_timers(profile: bool) -> tuple[Step, ...]:
    """The profile build's timers, on the calling thread around each layer's top-level ops:
    after the tile loops became parallel loops, before they become OpenMP regions."""
    return (passes("insert-layer-timers"),) if profile else ()


def stages(target: Target, profile: bool = False) -> list[Stage]:
    return [
        Stage("sep", (passes(*GRAPH_PASSES),)),
        Stage("linalg", (passes(*fusion(target), "lower-to-linalg"), mlir("canonicalize,cse"))),
        Stage("strategy", (select_strategy(),)),
        Stage("tiled", (passes("outline-layers"),
                        transform_each_layer(tiling_script),
                        mlir(INLINE_LAYERS))),
        Stage("vector", (transform(lambda c: vectorization_script(c.module.operation, c.target)),)),
        Stage("llvm", (passes("elide-zero-pads", "fill-pad-borders", "stagger-tile-buffers"),
                       mlir(BUFFERIZE), passes("drop-output-results"),
                       transform(lambda c: serial_loops_script(c.target)), mlir(deallocate(target)),
                       passes("free-after-last-use", "lower-memref-copies", prefetch(target),
                              "drop-buffer-arg-attrs"),
                       transform(lambda c: vector_lowering_script(c.target)),
                       extract_weights(),
                       passes("add-thread-control" if target.openmp
                              else "add-serial-thread-control"),
                       *layer_timers(profile),
                       *to_llvm(target))),
    ]


STAGE_NAMES = ("sep", "linalg", "strategy", "tiled", "vector", "llvm")


def apply_transform(module: ir.Module, script: str) -> None:
    library = ir.Module.parse(script)
    sequence = library.body.operations[0]
    interpreter.apply_named_sequence(module.operation, sequence, library.operation)


def entry_name(module: ir.Module) -> str:
    fn = next(op for op in module.body.operations if op.operation.name == "func.func")
    return ir.StringAttr(fn.attributes["sym_name"]).value


def run_step(c: Compilation, step: Step) -> None:
    if isinstance(step, Passes):
        run_passes(c.module, step.specs)
    elif isinstance(step, Pipeline):
        PassManager.parse(f"builtin.module({step.text})").run(c.module.operation)
    elif isinstance(step, ExtractWeights):
        c.weights = externalize_weights(c.module, entry_name(c.module))
    elif isinstance(step, SelectStrategy):
        if c.schedule != "none":
            run_passes(c.module, [PassSpec("select-strategy", {"target": c.target.name,
                                                               "strategy-file": c.strategy_file})])
    elif c.schedule == "none":
        return
    elif isinstance(step, TransformEachLayer):
        for fn in [op for op in c.module.body.operations if op.operation.name == "func.func"]:
            with alone(fn.operation, c.module.body) as scope:
                if find_strategies(scope.operation):
                    apply_transform(scope, step.script(scope.operation, c.target))
    else:
        apply_transform(c.module, step.script(c))


@contextmanager
def alone(fn: ir.Operation, block: ir.Block) -> Iterator[ir.Module]:
    """fn (in block) moved into a module of its own, and back to its place after."""
    ops = [op.operation for op in block.operations]
    index = ops.index(fn)
    scope = ir.Module.create(fn.location)
    scope.body.append(fn)
    try:
        yield scope
    finally:
        if index + 1 < len(ops):
            fn.move_before(ops[index + 1])
        else:
            block.append(fn)


def run_until(c: Compilation, last: str) -> None:
    """Run the stages up to and including `last`."""
    for stage in stages(c.target, c.profile):
        for step in stage.steps:
            run_step(c, step)
        if stage.name == last:
            return
