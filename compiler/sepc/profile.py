"""`sepc profile`: the time of every layer of one build of the whole network (docs/profile.md).

The model is compiled twice, the same way: once as the library `sepc compile` would write,
once instrumented (the pipeline's profile option: insert-layer-timers reads a clock
between layers, on the calling thread, into per-layer counters). Both run on the same
seeded inputs, interleaved, so the instrumented library's layers are timed inside one call
of the whole network (each layer finds the caches the layers before it left), and the plain
library gives the end-to-end time the layers' sum is held against.

A row is one kernel (the layers the timers group by: a depthwise conv fused with the 1x1
conv it feeds is one row, `dw1+pw1`), with its time per inference (median over runs),
GFLOP/s (the op table's FLOPs of its layers), share of the sum, fraction of the target's
FMA peak (measured on this machine), and the decisions its schedule chose, as `sepc
compile --emit strategy` prints them.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from mlir import ir

import sepc_runtime
from sepc_runtime.library import load_profile_reader
from sepc_runtime.model import BoundCall

from .dialects import make_context
from .driver import compile_file, emit
from .errors import UserError
from .frontend.emit_sep import emit_module
from .frontend.flops import separable_parts
from .frontend.graph import Graph, Layer
from .frontend.model_json import load_model
from .ops import OPS
from .passes.fuse_separable import FUSED_PRODUCER
from .passes.ir_util import layer_name, walk_ops
from .passes.registry import PassSpec, run_passes
from .pipeline import GRAPH_PASSES, fusion
from .targets import Target, missing_cpu_flags, resolve_target

DEFAULT_RUNS = 50
DEFAULT_WARMUP = 5
# Timed calls of one build in a row, after one untimed call that brings its weights back
# into the caches the other build's call used.
BURST = 5
INPUT_SEED = 0
# The sum of the per-layer medians this far below the median call's sum: a noisy machine.
NOISY = 0.1
SPLIT_PIECES = ("/depthwise", "/pointwise")    # split-separable's names for its two ops


@dataclass(frozen=True)
class Request:
    model: str
    target: str = "host"
    threads: int = 1
    runs: int = DEFAULT_RUNS
    warmup: int = DEFAULT_WARMUP
    random_weights: int | None = None
    strategy_file: str = ""


@dataclass
class Row:
    name: str                  # its model layers, '+'-joined (a fused pair: dw1+pw1)
    kernel: str                # the layer its counter and its strategy are named after
    layers: list[str]          # every model.json layer it computes, folded ones included
    flops: int
    strategies: dict[str, dict[str, Any]]   # --emit strategy's entries of its kernels
    ns: list[int] = field(default_factory=list)   # per timed run

    @property
    def ms(self) -> float:
        return statistics.median(self.ns) / 1e6 if self.ns else 0.0

    @property
    def kind(self) -> str:
        return "+".join(str(s.get("kind", "?")) for s in self.strategies.values()) or "-"


@dataclass(frozen=True)
class Peak:
    per_core: float | None     # GFLOP/s of one core; None: not measured
    cores: int
    source: str

    @property
    def gflops(self) -> float | None:
        return None if self.per_core is None else self.per_core * self.cores


@dataclass
class Report:
    request: Request
    model: str                 # the model's name
    target: Target
    rows: list[Row]
    untimed: list[str]         # model layers no kernel's span holds (reshapes, ...)
    peak: Peak
    plain_ns: list[int]        # per call of the uninstrumented library, from Python
    profiled_ns: list[int]     # the same for the instrumented one
    load: tuple[float, float]  # the 1-minute load average before and after timing

    @property
    def sum_ms(self) -> float:
        return sum(row.ms for row in self.rows)

    @property
    def call_sum_ms(self) -> float:
        """The median over runs of a call's summed layer times (the sum of the medians
        above can differ from it on a noisy machine)."""
        sums = [sum(run) for run in zip(*(row.ns for row in self.rows), strict=True)]
        return statistics.median(sums) / 1e6 if sums else 0.0

    @property
    def end_to_end_ms(self) -> float:
        return statistics.median(self.plain_ns) / 1e6

    @property
    def instrumented_ms(self) -> float:
        return statistics.median(self.profiled_ns) / 1e6


# --- checks -------------------------------------------------------------------------------

def check_request(request: Request) -> Target:
    if not os.path.isfile(request.model):
        raise UserError(f"{request.model}: file does not exist, expected a model.json")
    if request.threads < 1:
        raise UserError(f"--threads: expected a positive integer, got {request.threads}")
    if request.runs < 1:
        raise UserError(f"--runs: expected at least 1, got {request.runs}")
    if request.warmup < 0:
        raise UserError(f"--warmup: expected 0 or more, got {request.warmup}")
    target = resolve_target(request.target)
    check_runnable(target)
    return target


def check_runnable(target: Target) -> None:
    """Only a library this machine runs natively is timed: under qemu, times mean nothing."""
    host = sepc_runtime.host_arch()
    if target.arch != host:
        raise UserError(f"sepc profile: --target {target.name}: its {target.arch} code would "
                        f"run under qemu on this {host} machine, where times mean nothing; "
                        f"profile on an {target.arch} device (--target host there)")
    missing = missing_cpu_flags(target)
    if missing:
        raise UserError(f"sepc profile: --target {target.name}: this CPU lacks "
                        f"{', '.join(missing)}; profile --target host")


# --- rows: which layers each timed kernel computes ------------------------------------------

def kernel_members(graph: Graph, target: Target) -> dict[str, list[str]]:
    """{kernel: the `sep` ops it computes, by layer name, in order}, read off the graph after
    the pipeline's own graph passes and fusion: a fused depthwise conv joins its 1x1 conv."""
    members: dict[str, list[str]] = {}
    with make_context(), ir.Location.unknown():
        module = emit_module(graph)
        run_passes(module, [PassSpec(name) for name in GRAPH_PASSES] + list(fusion(target)))
        ops = [op for op in walk_ops(module.operation) if op.operation.name.startswith("sep.")]
        # named as lower-to-linalg names them (unnamed ops by their position)
        names = {op.operation: layer_name(op, position) for position, op in enumerate(ops)}
        for op in ops:
            kernel = op.operation
            if FUSED_PRODUCER in op.attributes:
                kernel = next(iter(op.result.uses)).owner.operation
            members.setdefault(names[kernel], []).append(names[op.operation])
    return members


def model_layer(name: str, layers: dict[str, Layer]) -> str | None:
    """The model.json layer a `sep` op's name comes from (split-separable names two ops
    LAYER/depthwise and LAYER/pointwise)."""
    if name in layers:
        return name
    for piece in SPLIT_PIECES:
        if name.endswith(piece) and name[:-len(piece)] in layers:
            return name[:-len(piece)]
    return None


def display_name(members: list[str], layers: dict[str, Layer]) -> str:
    """Its model layers, '+'-joined; a separable conv's piece by its own name if the other
    piece is in another row."""
    parts = []
    for member in members:
        base = model_layer(member, layers)
        whole = base is not None and (base == member or all(base + p in members
                                                            for p in SPLIT_PIECES))
        parts.append(base if whole and base is not None else member)
    return "+".join(dict.fromkeys(parts))


def member_flops(member: str, graph: Graph, layers: dict[str, Layer]) -> int:
    base = model_layer(member, layers)
    if base is None:
        return 0
    layer = layers[base]
    inputs = [graph.shape_of(name) for name in layer.inputs]
    if member == base:
        return OPS[layer.op].flops(layer.attrs, inputs, layer.out_shape)
    depthwise, pointwise = separable_parts(layer.attrs, inputs, layer.out_shape)
    return depthwise if member.endswith("/depthwise") else pointwise


def add_folded(graph: Graph, producer: dict[str, int], survivors: set[str]) -> None:
    """Give each layer a graph pass folded away (a batch norm into its conv, an activation
    into its producer) the row that writes its input: the kernel it folded into."""
    for layer in graph.layers:
        if layer.name not in survivors and layer.inputs and layer.inputs[0] in producer:
            producer[layer.name] = producer[layer.inputs[0]]


def make_rows(graph: Graph, timed: list[str], members: dict[str, list[str]],
              strategies: dict[str, dict[str, Any]]) -> tuple[list[Row], list[str]]:
    """The rows of the timed kernels, in counter order, and the model layers none holds."""
    layers = {layer.name: layer for layer in graph.layers}
    rows: list[Row] = []
    computes: list[set[str]] = []     # per row: the model layers it computes (a part of)
    producer: dict[str, int] = {}     # model layer -> the row that writes its value
    for kernel in timed:
        own = members.get(kernel, [kernel])
        related = {key: entry for key, entry in strategies.items()
                   if key == kernel or key.startswith(kernel + "/")}
        rows.append(Row(display_name(own, layers), kernel, [],
                        sum(member_flops(m, graph, layers) for m in own), related))
        bases = {base for m in own if (base := model_layer(m, layers)) is not None}
        computes.append(bases)
        # a split separable conv's value is written by its second piece, the later kernel
        producer |= {base: len(rows) - 1 for base in bases}
    survivors = {model_layer(m, layers) or m for own in members.values() for m in own}
    add_folded(graph, producer, survivors)
    for name, index in producer.items():
        computes[index].add(name)
    for row, names in zip(rows, computes, strict=True):
        row.layers = [layer.name for layer in graph.layers if layer.name in names]
    covered = set().union(*computes)
    return rows, [layer.name for layer in graph.layers if layer.name not in covered]


# --- builds and timing ------------------------------------------------------------------------

def build(request: Request, folder: Path, profile: bool) -> str:
    return compile_file(request.model, request.target, str(folder), request.random_weights,
                        "auto", request.threads, ("shared",), request.strategy_file, profile)


def bound_call(manifest_path: str, threads: int) -> tuple[sepc_runtime.Model, BoundCall]:
    model = sepc_runtime.load(manifest_path, threads=threads)
    rng = np.random.default_rng(INPUT_SEED)
    inputs = {name: rng.standard_normal(shape).astype(np.float32)
              for name, shape, _ in model.inputs}
    outputs = {name: np.empty(shape, np.float32) for name, shape, _ in model.outputs}
    return model, model.bind(inputs, outputs)


def counter_taker(model: sepc_runtime.Model, layers: int) -> Callable[[], list[int]]:
    """A function that takes the instrumented library's counters (and resets them)."""
    reader = load_profile_reader(model.manifest)
    counters = np.zeros(layers, np.int64)
    address = counters.ctypes.data

    def take() -> list[int]:
        reader(address, layers)
        return [int(ns) for ns in counters]
    return take


def timed(call: Callable[[], None]) -> int:
    start = time.perf_counter_ns()
    call()
    return time.perf_counter_ns() - start


def time_builds(plain: Callable[[], None], profiled: Callable[[], None],
                take: Callable[[], list[int]], runs: int, warmup: int
                ) -> tuple[list[int], list[int], list[list[int]]]:
    """(plain call ns, instrumented call ns, per-layer ns of each instrumented call), the
    builds interleaved in bursts so that both see the same machine."""
    for _ in range(warmup):
        plain()
        profiled()
    plain_ns: list[int] = []
    profiled_ns: list[int] = []
    layer_ns: list[list[int]] = []
    while len(plain_ns) < runs:
        burst = min(BURST, runs - len(plain_ns))
        plain()
        plain_ns += [timed(plain) for _ in range(burst)]
        profiled()
        take()
        for _ in range(burst):
            profiled_ns.append(timed(profiled))
            layer_ns.append(take())
    return plain_ns, profiled_ns, layer_ns


# --- the roofline's ceiling -------------------------------------------------------------------

def measure_peak(target: Target, threads: int) -> Peak:
    """One core's FMA peak on the target's vectors, measured with fma_peak.c, times the
    cores the threads can use (the FMA units of each core are its own)."""
    cores = max(1, min(threads, os.cpu_count() or 1))
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return Peak(None, cores, "unknown: no C compiler (cc) to build the FMA loop")
    vector_bytes = max(target.vector_bits // 8, 16)
    with tempfile.TemporaryDirectory(prefix="sepc-peak-") as tmp:
        library = Path(tmp) / "fma_peak.so"
        built = subprocess.run(
            [compiler, "-O2", "-march=native", "-ffp-contract=fast", "-shared", "-fPIC",
             f"-DVECTOR_BYTES={vector_bytes}", *([] if target.registers >= 32
                                                  else ["-DFEW_REGISTERS"]),
             str(Path(__file__).with_name("fma_peak.c")), "-o", str(library)],
            capture_output=True, text=True)
        if built.returncode:
            return Peak(None, cores, f"unknown: building the FMA loop failed: "
                                     f"{built.stderr.strip()[-200:]}")
        fma = ctypes.CDLL(str(library)).fma_gflops
        fma.restype, fma.argtypes = ctypes.c_double, [ctypes.c_long, ctypes.c_float]
        fma(200_000, 1.0)                                        # settle the clock
        per_core = max(fma(2_000_000, 1.0) for _ in range(5))
    return Peak(per_core, cores, f"measured: an FMA loop on {vector_bytes * 8}-bit vectors, "
                                 f"{per_core:.1f} GFLOP/s per core x {cores} "
                                 f"core{'s' if cores > 1 else ''}")


# --- the whole ----------------------------------------------------------------------------

def profile(request: Request) -> Report:
    target = check_request(request)
    graph = load_model(request.model, request.random_weights)
    strategies = json.loads(emit(request.model, "strategy", request.target,
                                 request.random_weights, "auto", request.strategy_file))
    members = kernel_members(graph, target)
    with tempfile.TemporaryDirectory(prefix="sepc-profile-") as tmp:
        plain_manifest = build(request, Path(tmp) / "plain", profile=False)
        profiled_manifest = build(request, Path(tmp) / "profiled", profile=True)
        _, plain = bound_call(plain_manifest, request.threads)
        model, profiled = bound_call(profiled_manifest, request.threads)
        timed_layers = list(model.manifest.fields["profile"]["layers"])
        rows, untimed = make_rows(graph, timed_layers, members, strategies)
        load_before = os.getloadavg()[0]
        plain_ns, profiled_ns, layer_ns = time_builds(
            plain, profiled, counter_taker(model, len(timed_layers)), request.runs,
            request.warmup)
        load = (load_before, os.getloadavg()[0])
    for index, row in enumerate(rows):
        row.ns = [run[index] for run in layer_ns]
    return Report(request, graph.name, target, rows, untimed,
                  measure_peak(target, request.threads), plain_ns, profiled_ns, load)


# --- output -------------------------------------------------------------------------------

def strategy_summary(strategies: dict[str, dict[str, Any]]) -> str:
    """The decisions, short: `pixels=8 rows=16 prefetch` (a false flag is left out)."""
    kernels = []
    for entry in strategies.values():
        parts = []
        for name, value in entry.items():
            if name == "kind" or value is False:
                continue
            parts.append(name if value is True else f"{name}={value}")
        kernels.append(" ".join(parts))
    return "; ".join(k for k in kernels if k) or "-"


def row_figures(row: Row, report: Report) -> dict[str, float | None]:
    total, peak = report.sum_ms, report.peak.gflops
    gflops = row.flops / (row.ms * 1e6) if row.ms and row.flops else None
    return {"ms": row.ms, "gflops": gflops, "share": row.ms / total if total else 0.0,
            "roofline_fraction": gflops / peak if gflops is not None and peak else None}


def render_json(report: Report) -> str:
    r = report.request
    document = {
        "model": report.model, "model_file": r.model, "target": r.target,
        "resolved_target": report.target.name, "threads": r.threads, "runs": r.runs,
        "warmup": r.warmup,
        "peak": {"gflops": report.peak.gflops, "gflops_per_core": report.peak.per_core,
                 "cores": report.peak.cores, "source": report.peak.source},
        "layers": [{"name": row.name, "kernel": row.kernel, "kind": row.kind,
                    "layers": row.layers, "flops": row.flops, **row_figures(row, report),
                    "strategy": row.strategies,
                    "strategy_summary": strategy_summary(row.strategies)}
                   for row in report.rows],
        "untimed_layers": report.untimed,
        "load_average": {"before": report.load[0], "after": report.load[1],
                         "cores": os.cpu_count()},
        "sum_ms": report.sum_ms, "call_sum_ms": report.call_sum_ms,
        "end_to_end_ms": report.end_to_end_ms,
        "instrumented_ms": report.instrumented_ms,
        "overhead_ms": report.instrumented_ms - report.end_to_end_ms,
        "overhead_fraction": report.instrumented_ms / report.end_to_end_ms - 1,
    }
    return json.dumps(document, indent=2) + "\n"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def header(report: Report) -> list[str]:
    r, peak = report.request, report.peak
    threads = f"{r.threads} thread{'s' if r.threads > 1 else ''}"
    return [f"sepc profile: {report.model} on {report.target.name}, {threads}, "
            f"median of {r.runs} runs after {r.warmup} warm-up",
            "roofline: " + (f"{peak.gflops:.1f} GFLOP/s" if peak.gflops else "unknown")
            + f" ({peak.source})",
            # other work on the machine stretches some layers' spans more than others'
            f"load average: {report.load[0]:.2f} before, {report.load[1]:.2f} after, on "
            f"{os.cpu_count()} cores"]


def table(report: Report) -> list[str]:
    width = max([len("layer")] + [len(row.name) for row in report.rows])
    kind_width = max([len("kind")] + [len(row.kind) for row in report.rows])
    lines = [f"{'#':>3}  {'layer':<{width}}  {'kind':<{kind_width}}  {'ms':>8}  {'GFLOP/s':>8}"
             f"  {'share':>6}  {'roofline':>8}  strategy"]
    for index, row in enumerate(report.rows):
        f = row_figures(row, report)
        gflops = "-" if f["gflops"] is None else f"{f['gflops']:.1f}"
        lines.append(f"{index:>3}  {row.name:<{width}}  {row.kind:<{kind_width}}  "
                     f"{row.ms:>8.3f}  {gflops:>8}  {percent(f['share']):>6}  "
                     f"{percent(f['roofline_fraction']):>8}  {strategy_summary(row.strategies)}")
    return lines


def render_text(report: Report) -> str:
    return "\n".join(header(report) + [""] + table(report) + [""] + totals(report)) + "\n"


def totals(report: Report) -> list[str]:
    e2e, instrumented = report.end_to_end_ms, report.instrumented_ms
    lines = [f"sum of layers:  {report.sum_ms:.3f} ms ({percent(report.sum_ms / e2e)} of end "
             f"to end; the median of each call's sum: {report.call_sum_ms:.3f} ms)",
             f"end to end:     {e2e:.3f} ms (the uninstrumented library, one call from Python)",
             f"instrumented:   {instrumented:.3f} ms (overhead {instrumented - e2e:+.3f} ms, "
             f"{100 * (instrumented / e2e - 1):+.1f}%)"]
    if report.untimed:
        lines.append(f"not timed (no code of their own): {', '.join(report.untimed)}")
    fraction = report.sum_ms / report.call_sum_ms if report.call_sum_ms else 1.0
    if fraction < 1 - NOISY:
        lines.append(f"warning: the layers' medians add up to {percent(fraction)} of a median "
                     "call: the layers were slow in different calls (the machine was busy?); "
                     "rerun on an idle machine")
    return lines


def run(request: Request, as_json: bool) -> str:
    report = profile(request)
    return render_json(report) if as_json else render_text(report)
