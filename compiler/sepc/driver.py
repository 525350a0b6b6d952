"""The compiler driver: model.json -> MLIR stages -> LLVM -> NAME.so/.h/.json.

`compile_file` builds the library; `emit` returns one intermediate form as text.
"""
from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from mlir import ir

from . import toolchain
from .artifacts import entry_symbol, write_artifacts
from .dialects import make_context
from .errors import UserError
from .frontend.emit_sep import emit_module
from .frontend.graph import Graph
from .frontend.model_json import load_model
from .passes.add_thread_control import setter_symbol
from .passes.insert_layer_timers import profiled_layers, reader_symbol
from .pipeline import STAGE_NAMES, Compilation, run_until
from .schedules import describe
from .targets import Target, resolve_target
from .weights_object import weights_assembly

EMIT_STAGES = STAGE_NAMES + ("llvm-ir", "asm")
SCHEDULES = ("auto", "none")

# Constants above this many elements print as `dense_resource<__elided__>` in --emit output:
# a layer's weights would bury the code a reader (or FileCheck) is looking for.
ELIDE_CONSTANTS_OVER = 64


def check_options(target: str, schedule: str) -> Target:
    if schedule not in SCHEDULES:
        raise UserError(f"--schedule: unknown schedule '{schedule}', "
                        f"expected one of {', '.join(SCHEDULES)}")
    return resolve_target(target)


def lower(graph: Graph, target: Target, last_stage: str, schedule: str,
          strategy_file: str = "", profile: bool = False) -> Compilation:
    module = emit_module(graph)
    c = Compilation(module, target, schedule, strategy_file, profile)
    run_until(c, last_stage)
    return c


def translated(c: Compilation, work: Path) -> Path:
    bytecode, ll = work / "module.mlirbc", work / "module.ll"
    with open(bytecode, "wb") as f:
        c.module.operation.write_bytecode(f)
    toolchain.translate_to_llvm_ir(bytecode, ll)
    return ll


def llvm_ir(c: Compilation, work: Path, text: bool = False) -> Path:
    optimized = work / "module.opt.ll"
    toolchain.optimize(translated(c, work), optimized, c.target, text)
    return optimized


def objects(c: Compilation, work: Path) -> list[Path]:
    """The module's object files: opt and llc take most of a large network's compile time
    and work on one function at a time, so the functions (one per parallel loop nest) are
    split over two modules per core, compiled side by side."""
    workers = len(os.sched_getaffinity(0))
    parts = toolchain.split_module(translated(c, work), work, 2 * workers)

    def compile_part(part: Path) -> Path:
        optimized, obj = part.with_suffix(".opt.bc"), part.with_suffix(".o")
        toolchain.optimize(part, optimized, c.target)
        toolchain.codegen(optimized, obj, c.target, "obj")
        return obj

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(compile_part, parts))


def emit(model_path: str, stage: str, target: str = "host", random_weights: int | None = None,
         schedule: str = "auto", strategy_file: str = "") -> str:
    """The text of one intermediate form of the model (see `--emit` in spec/cli.md); the
    `strategy` stage prints every kernel's decisions (docs/architecture.md)."""
    if stage not in EMIT_STAGES:
        raise UserError(f"--emit: unknown stage '{stage}', "
                        f"expected one of {', '.join(EMIT_STAGES)}")
    tgt = check_options(target, schedule)
    graph = load_model(model_path, random_weights)
    with make_context(), ir.Location.unknown():
        c = lower(graph, tgt, stage if stage in STAGE_NAMES else "llvm", schedule, strategy_file)
        if stage == "strategy":
            return describe(c.module.operation)
        if stage in STAGE_NAMES:
            # Text: the stubs type get_asm as object, for its binary=True form (bytes).
            return cast(str, c.module.operation.get_asm(large_elements_limit=ELIDE_CONSTANTS_OVER))
        with tempfile.TemporaryDirectory(prefix="sepc-") as tmp:
            ll = llvm_ir(c, Path(tmp), text=stage == "llvm-ir")
            if stage == "llvm-ir":
                return ll.read_text()
            asm = Path(tmp) / "module.s"
            toolchain.codegen(ll, asm, tgt, "asm")
            return asm.read_text()


LIBRARY_KINDS = ("shared", "static")


def profile_field(c: Compilation, entry: str) -> dict[str, Any]:
    """The manifest's "profile" field of an instrumented build (docs/profile.md)."""
    return {"profile": {"reader": reader_symbol(entry), "clock": "CLOCK_MONOTONIC",
                        "unit": "ns", "layers": profiled_layers(c.module.operation).get(entry, [])}}


def compile_file(model_path: str, target: str = "host", out_dir: str = "build",
                 random_weights: int | None = None, schedule: str = "auto",
                 threads: int = 1, libraries: tuple[str, ...] = ("shared",),
                 strategy_file: str = "", profile: bool = False) -> str:
    """Compile model.json into out_dir; returns the manifest's path. `threads` is how many
    threads a call uses by default (the runtime may ask for another count per model).
    `libraries`: "static" adds NAME.a (the same objects, for linking into an application)
    to NAME.so, which is always written: the manifest and the runtime refer to it.
    `strategy_file`: decisions that override the cost model's (--strategy).
    `profile`: the instrumented build of `sepc profile`, its per-layer counters named in the
    manifest's "profile" field (docs/profile.md)."""
    unknown = [kind for kind in libraries if kind not in LIBRARY_KINDS]
    if unknown:
        raise UserError(f"--emit-lib: unknown library kind '{unknown[0]}', expected "
                        f"{' or '.join(LIBRARY_KINDS)} (comma-separated)")
    tgt = check_options(target, schedule)
    if not isinstance(threads, int) or threads < 1:
        raise UserError(f"--threads: expected a positive integer, got {threads}")
    if threads > 1 and not tgt.openmp:
        raise UserError(f"--threads {threads}: target {tgt.name} builds single-threaded libraries")
    graph = load_model(model_path, random_weights)
    with make_context(), ir.Location.unknown():
        c = lower(graph, tgt, "llvm", schedule, strategy_file, profile)
        with tempfile.TemporaryDirectory(prefix="sepc-") as tmp:
            work = Path(tmp)
            weights, lib = work / "weights.o", work / "module.so"
            toolchain.assemble(weights_assembly(c.weights, work), weights, tgt)
            objs = [*objects(c, work), weights]
            toolchain.link_shared(objs, lib, tgt)
            static = None
            if "static" in libraries:
                static = work / "module.a"
                toolchain.archive(objs, static)
            return write_artifacts(
                out_dir, graph.name, str(lib),
                {"target": target, "resolved_target": tgt.name, "triple": tgt.triple,
                 "arch": tgt.arch, "required_cpu_flags": list(tgt.required_cpu_flags),
                 "threads": threads, "schedule": schedule,
                 "compiler": {"mlir": toolchain.mlir_version()}}
                | ({"thread_control": setter_symbol(entry_symbol(graph.name))}
                   if tgt.openmp else {})
                | (profile_field(c, entry_symbol(graph.name)) if profile else {}),
                [(spec.name, spec.shape) for spec in graph.inputs],
                [(name, graph.shape_of(name)) for name in graph.outputs],
                str(static) if static else None)
