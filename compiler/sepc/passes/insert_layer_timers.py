"""insert-layer-timers: the instrumentation of the profile build (`sepc profile`,
docs/profile.md); the default pipeline never runs it.

It runs on the bufferized function, just before the lowering to the LLVM dialect: by then
each layer is a few top-level ops of the function's body (its buffers' allocs, the loop
nest its schedule tiled, which becomes one OpenMP fork on parallel targets, a copy), all
carrying the layer's location (the NameLoc the front end gives each model.json layer,
which tiling, fusion and bufferization carry over to the ops they create). The pass reads
a clock on the calling thread where one layer's run of ops ends and the next begins, and
adds the difference to that layer's counter: a layer's span holds its whole loop nest,
parallel region included, and the spans of a call add up to the call.

Per instrumented function `F` it adds
- `F_profile_ns`: a private global of one int64 per layer, nanoseconds summed over calls
  (atomically: concurrent calls add up, none is lost);
- `int32_t F_profile(int64_t *ns, int32_t n)`: copies the first n counters into ns,
  resets them to 0 and returns the number of layers;
- the module attribute `sep.profile_layers = {F = ["stem", "pw1", ...]}`: the layer of
  each counter, in order.
The clock is `clock_gettime` of the C library, through a small private function.
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, func, memref, scf

from ..errors import InternalError
from .ir_util import named_attributes, walk_ops
from .registry import module_pass

PROFILE_LAYERS = "sep.profile_layers"
CLOCK = "sepc_profile_clock"
CLOCK_GETTIME = "clock_gettime"
NANOSECONDS_PER_SECOND = 1_000_000_000

# Top-level ops without regions that still cost time: what starts a layer's span. Views,
# constants and masks are free, and some carry the location of a layer other than the
# one they serve (a fused depthwise conv's folded weights), so they never start a span.
WORK_OPS = frozenset({"memref.alloc", "memref.alloca", "memref.dealloc", "memref.copy",
                      "memref.store", "memref.prefetch", "func.call", "vector.store",
                      "vector.transfer_write", "vector.maskedstore", "vector.scatter"})


def counters_symbol(function: str) -> str:
    return f"{function}_profile_ns"


def reader_symbol(function: str) -> str:
    return f"{function}_profile"


def layer_of(loc: ir.Location) -> str | None:
    """The layer name in an op's location: a NameLoc, or the first one a FusedLoc holds."""
    if loc.is_a_name():
        return loc.name_str
    if loc.is_a_fused():
        return next((found for inner in loc.locations
                     if (found := layer_of(inner)) is not None), None)
    return None


def does_work(op: ir.OpView) -> bool:
    return len(op.operation.regions) > 0 or op.operation.name in WORK_OPS


def layer_runs(body: ir.Block) -> list[tuple[str, ir.OpView]]:
    """(layer, first op) of each run of the body's work ops that belong to one layer; ops
    of no layer (the frees after a layer's last read) stay in the run they follow."""
    runs: list[tuple[str, ir.OpView]] = []
    for op in body.operations:
        layer = layer_of(op.location) if does_work(op) else None
        if layer is not None and (not runs or runs[-1][0] != layer):
            runs.append((layer, op))
    return runs


def i64() -> ir.IntegerType:
    return ir.IntegerType.get_signless(64)


def i32() -> ir.IntegerType:
    return ir.IntegerType.get_signless(32)


def internal(fn: func.FuncOp) -> None:
    # A private func.func with a body still becomes an exported LLVM function.
    fn.attributes["llvm.linkage"] = ir.Attribute.parse("#llvm.linkage<internal>")


def add_clock(module_body: ir.Block, clock_id: int) -> None:
    """`i64 sepc_profile_clock()`: clock_gettime(clock_id) in nanoseconds."""
    timespec = ir.MemRefType.get([2], i64())    # {tv_sec, tv_nsec}: two int64 on LP64
    with ir.InsertionPoint.at_block_begin(module_body):
        func.FuncOp(CLOCK_GETTIME, ([i32(), timespec], [i32()]), visibility="private")
        clock = func.FuncOp(CLOCK, ([], [i64()]), visibility="private")
    internal(clock)
    with ir.InsertionPoint(clock.add_entry_block()):
        buffer = memref.alloca(timespec, [], [])
        func.CallOp([i32()], ir.FlatSymbolRefAttr.get(CLOCK_GETTIME),
                    [arith.constant(i32(), clock_id), buffer])
        index = ir.IndexType.get()
        seconds = memref.load(buffer, [arith.constant(index, 0)])
        nanoseconds = memref.load(buffer, [arith.constant(index, 1)])
        scaled = arith.muli(seconds, arith.constant(i64(), NANOSECONDS_PER_SECOND))
        func.ReturnOp([arith.addi(scaled, nanoseconds)])


def read_clock() -> ir.Value:
    return func.CallOp([i64()], ir.FlatSymbolRefAttr.get(CLOCK), []).result


def add_elapsed(counters: ir.Value, index: int, start: ir.Value, end: ir.Value) -> None:
    slot = arith.constant(ir.IndexType.get(), index)
    memref.AtomicRMWOp(arith.AtomicRMWKind.addi, arith.subi(end, start), counters, [slot])


def add_counters(fn: func.FuncOp, name: str, layers: int) -> ir.MemRefType:
    counters = ir.MemRefType.get([layers], i64())
    zeros = ir.DenseElementsAttr.get_splat(ir.RankedTensorType.get([layers], i64()),
                                           ir.IntegerAttr.get(i64(), 0))
    with ir.InsertionPoint(fn):
        memref.GlobalOp(counters_symbol(name), counters, sym_visibility="private",
                        initial_value=zeros)
    return counters


def add_reader(fn: func.FuncOp, name: str, counters: ir.MemRefType) -> None:
    """`i32 F_profile(memref<Nxi64> ns, i32 n)`: swap the first n counters out into ns."""
    layers = counters.shape[0]
    with ir.InsertionPoint.after(fn):
        reader = func.FuncOp(reader_symbol(name), ([counters, i32()], [i32()]))
    with ir.InsertionPoint(reader.add_entry_block()):
        out, wanted = reader.arguments
        index = ir.IndexType.get()
        at_least_zero = arith.maxsi(wanted, arith.constant(i32(), 0))
        count = arith.minsi(arith.index_cast(index, at_least_zero),
                            arith.constant(index, layers))
        loop = scf.ForOp(arith.constant(index, 0), count, arith.constant(index, 1))
        with ir.InsertionPoint(loop.body):
            source = memref.get_global(counters, counters_symbol(name))
            taken = memref.AtomicRMWOp(arith.AtomicRMWKind.assign, arith.constant(i64(), 0),
                                       source, [loop.induction_variable]).result
            memref.store(taken, out, [loop.induction_variable])
            scf.YieldOp([])
        func.ReturnOp([arith.constant(i32(), layers)])


def instrument(fn: func.FuncOp) -> list[str]:
    """Time each layer's runs of top-level ops in fn; returns the layers, counter order."""
    blocks = list(fn.regions[0].blocks)
    if len(blocks) != 1:
        raise InternalError(f"insert-layer-timers: @{fn.name.value} has {len(blocks)} blocks; "
                            "it runs on structured control flow, before convert-scf-to-cf")
    body = blocks[0]
    runs = layer_runs(body)
    if not runs:
        return []
    layers = list(dict.fromkeys(layer for layer, _ in runs))
    name = fn.name.value
    counters_type = add_counters(fn, name, len(layers))
    ops = list(body.operations)
    # A run ends where the next begins; the last one at the return.
    ends = [first for _, first in runs[1:]] + [ops[-1]]
    with ir.InsertionPoint(runs[0][1]):
        start = read_clock()
    for (layer, _), end in zip(runs, ends, strict=True):
        with ir.InsertionPoint(end):
            now = read_clock()
            counters = memref.get_global(counters_type, counters_symbol(name))
            add_elapsed(counters, layers.index(layer), start, now)
        start = now
    add_reader(fn, name, counters_type)
    return layers


@module_pass("insert-layer-timers")
def insert_layer_timers(module: ir.Operation, *, clock_id: int = 1) -> None:
    """Time every layer's top-level ops (grouped by location) into per-layer counters,
    read through an exported `F_profile(int64_t *ns, int32_t n)` (the profile build).

    clock_id: the clock_gettime clock; 1 is CLOCK_MONOTONIC on Linux (x86-64, aarch64)."""
    if PROFILE_LAYERS in module.attributes:
        raise InternalError("insert-layer-timers: the module is instrumented already")
    profiled: dict[str, ir.Attribute] = {}
    fn: func.FuncOp
    with ir.Location.unknown():
        for fn in walk_ops(module, ("func.func",)):
            if fn.is_external:
                continue
            layers = instrument(fn)
            if layers:
                profiled[fn.name.value] = ir.ArrayAttr.get([ir.StringAttr.get(n)
                                                            for n in layers])
        if profiled:
            add_clock(module.regions[0].blocks[0], clock_id)
        module.attributes[PROFILE_LAYERS] = ir.DictAttr.get(profiled)


def profiled_layers(module: ir.Operation) -> dict[str, list[str]]:
    """{function: its counters' layers, in order} as insert-layer-timers recorded them."""
    if PROFILE_LAYERS not in module.attributes:
        return {}
    return {entry.name: [ir.StringAttr(a).value for a in ir.ArrayAttr(entry.attr)]
            for entry in named_attributes(module.attributes[PROFILE_LAYERS])}
