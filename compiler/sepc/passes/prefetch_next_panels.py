"""prefetch-next-panels: while a register block reduces over one block of packed weight
panels, prefetch the next block's panels into L2, a line per panel and channel step (spread
over the register blocks that share the block); while a dense layer's or a lone 1x1 conv's
register block reads its weights row by row, prefetch the row 8 ahead.

A fused separable kernel reads its packed 1x1 weights (F/16, C, 16) a block of panels at a
time, once per row of its tile. Within a network the weights come from DRAM or L3: the
first row of each block then waits on a stream of 128 bytes per 14 cycles, as much as
one core's DRAM bandwidth, while the other rows find the block in L2. Prefetching the
next block during all the rows of the current one spreads that stream over the whole
block's work (MobileNetV1's 14x14x512 layers ran 7% slower in the network than alone).
Which kernels prefetch is their strategy's decision (`prefetch`: packed weights of the
target's prefetch_min_bytes or more; smaller ones come from DRAM in a few microseconds, and
two more instructions per channel step are worth it only for large weights): the tiling
script marks their reduction loops `sep.prefetch`, and only marked loops are rewritten.
A batch-1 dense layer (MobileNetV1's 1024x1000 head, 4 MB) reads a 1 KiB run of each
4 KiB weight row per step, a new page each time, where hardware prefetchers stop: from
DRAM it took 0.22 ms, 0.16 ms with the rows prefetched (the network 1% faster)."""
from dataclasses import dataclass
from typing import Iterator

from mlir import ir
from mlir.dialects import arith, memref, scf, vector

from ..schedules.script import PREFETCH
from .ir_util import walk_ops
from .registry import module_pass

# prefetcht1: into L2, where the next block is read from; L1 keeps the current block.
L2_LOCALITY = 2


def panel_reads(loop: scf.ForOp) -> Iterator[tuple[vector.TransferReadOp, int]]:
    """(read, panels per block) for each vector read of packed panels (a rank-3 global
    constant) in the loop's body that steps its channel index with the loop."""
    step = loop.induction_variable
    for op in loop.body.operations:
        if op.name != "vector.transfer_read":
            continue
        base = op.base
        # (the op's own name: memref.get_global's `name` is the global's symbol)
        if not isinstance(base, ir.OpResult) or base.owner.operation.name != "memref.get_global":
            continue
        shape = ir.MemRefType(base.type).shape
        if len(shape) != 3 or len(op.indices) != 3 or op.indices[1] != step:
            continue
        map_ = ir.AffineMapAttr(op.attributes["permutation_map"]).value
        dims = [str(result) for result in map_.results]
        if "d0" not in dims:
            continue
        yield op, ir.VectorType(op.result.type).shape[dims.index("d0")]


def weight_row_reads(loop: scf.ForOp) -> Iterator[tuple[memref.SubViewOp, int]]:
    """(subview, columns) for each row of a rank-2 global constant (a dense layer's K x N
    weights) that the loop's body views at the loop's step, then reads as a vector."""
    step = loop.induction_variable
    for op in loop.body.operations:
        if op.operation.name != "memref.subview" or len(op.offsets) != 1:
            continue
        source = op.source
        while isinstance(source, ir.OpResult) and source.owner.operation.name == "memref.subview":
            view: memref.SubViewOp = source.owner
            source = view.source
        if not (isinstance(source, ir.OpResult)
                and source.owner.operation.name == "memref.get_global"):
            continue
        if op.offsets[0] != step or ir.MemRefType(op.source.type).rank != 2:
            continue
        for use in op.result.uses:
            if use.owner.operation.name == "vector.transfer_read":
                yield op, ir.VectorType(use.owner.result.type).shape[-1]
                break


def weight_row_vector_reads(loop: scf.ForOp) -> Iterator[tuple[vector.TransferReadOp, int]]:
    """(read, columns) for each vector read of a row of a rank-2 global constant (a 1x1
    conv's K x N weights) at the loop's step: a 32-column stripe of each row, rows a few
    KiB apart, which the hardware prefetchers do not follow from one row to the next."""
    step = loop.induction_variable
    for op in loop.body.operations:
        if op.name != "vector.transfer_read" or len(op.indices) != 2 or op.indices[0] != step:
            continue
        base = op.base
        if not isinstance(base, ir.OpResult) or base.owner.operation.name != "memref.get_global":
            continue
        if ir.MemRefType(base.type).rank == 2:
            yield op, ir.VectorType(op.result.type).shape[-1]


def depends_on(value: ir.Value, loop_index: ir.Value, depth: int = 8) -> bool:
    """Whether value is computed from loop_index (through at most `depth` ops)."""
    if value == loop_index:
        return True
    if depth == 0 or not isinstance(value, ir.OpResult):
        return False
    return any(depends_on(operand, loop_index, depth - 1) for operand in value.owner.operands)


def constant_of(value: ir.Value) -> int | None:
    if isinstance(value, ir.OpResult) and value.owner.operation.name == "arith.constant":
        return ir.IntegerAttr(value.owner.attributes["value"]).value
    return None


@dataclass(frozen=True)
class BlockLoop:
    """A loop between a reduction loop and its loop over blocks of panels, constant bounds."""
    index: ir.Value
    start: int
    step: int
    trips: int


def register_blocks_of_a_panel_block(loop: scf.ForOp,
                                     panel_index: ir.Value) -> list[BlockLoop] | None:
    """The loops between the reduction loop and the loop over blocks of panels (the one the
    panel index steps with), innermost first; None when there is no such loop (one block
    per tile) or a bound is not a constant."""
    loops: list[BlockLoop] = []
    parent = loop.operation.parent
    while parent is not None and parent.name == "scf.for":
        outer = parent.opview
        if depends_on(panel_index, outer.induction_variable):
            return loops
        start, stop, step = (constant_of(v)
                             for v in (outer.lowerBound, outer.upperBound, outer.step))
        if start is None or stop is None or step is None:
            return None
        loops.append(BlockLoop(outer.induction_variable, start, step,
                               -(-(stop - start) // step)))
        parent = parent.parent
    return None


def register_block_index(loop: scf.ForOp, panel_index: ir.Value) -> tuple[ir.Value, int] | None:
    """(the index of this register block among those that reduce over one block of panels,
    computed before the reduction loop; their count), or None when there is one, or loops
    of unknown trip counts."""
    loops = register_blocks_of_a_panel_block(loop, panel_index)
    if not loops:
        return None
    index = ir.IndexType.get()
    with ir.InsertionPoint(loop), loop.location:
        block, stride = arith.constant(index, 0), 1
        for outer in loops:
            position = arith.divui(arith.subi(outer.index, arith.constant(index, outer.start)),
                                   arith.constant(index, outer.step))
            block = arith.addi(block, arith.muli(position, arith.constant(index, stride)))
            stride *= outer.trips
    return (block, stride) if stride > 1 else None


def prefetch(base: ir.Value, indices: list[ir.Value]) -> None:
    memref.PrefetchOp(base, indices, False, L2_LOCALITY, True)


@module_pass("prefetch-next-panels")
def prefetch_next_panels(module: ir.Operation, *, rows_ahead: int = 8,
                         line_floats: int = 16) -> None:
    """Prefetch the next block of packed weight panels, or the weight row `rows-ahead`
    ahead, in the reduction loops their kernels' strategies mark.

    rows_ahead: how many rows ahead a dense layer's weight rows are prefetched.
    line_floats: f32 per cache line (one prefetch per line of a row)."""
    index = ir.IndexType.get()
    loop: scf.ForOp
    for loop in walk_ops(module, ("scf.for",)):
        if PREFETCH not in loop.attributes:
            continue
        for view, columns in list(weight_row_reads(loop)):
            with ir.InsertionPoint(view), view.location:
                row = arith.addi(loop.induction_variable, arith.constant(index, rows_ahead))
                for column in range(0, columns, line_floats):
                    prefetch(view.source, [row, arith.constant(index, column)])
        for read, columns in list(weight_row_vector_reads(loop)):
            with ir.InsertionPoint(read), read.location:
                row = arith.addi(loop.induction_variable, arith.constant(index, rows_ahead))
                for column in range(0, columns, line_floats):
                    offset = arith.addi(read.indices[1], arith.constant(index, column))
                    prefetch(read.base, [row, offset])
        for read, panels in list(panel_reads(loop)):
            shared = register_block_index(loop, read.indices[0])
            with ir.InsertionPoint(read), read.location:
                zero = arith.constant(index, 0)
                if shared is not None and shared[1] >= panels:
                    # One line per step, branch-free: register block b takes, at channel
                    # step k, the next block's panel (k + b) mod panels; the blocks together
                    # take every line. (Every block prefetching every line cost a prefetch
                    # per line it finds in L2: a 16x16x256 pair ran 1.4x slower; a branch
                    # around them slowed MobileNetV1 1.3x.)
                    rotated = arith.remui(arith.addi(loop.induction_variable, shared[0]),
                                          arith.constant(index, panels))
                    panel = arith.addi(read.indices[0],
                                       arith.addi(rotated, arith.constant(index, panels)))
                    prefetch(read.base, [panel, read.indices[1], zero])
                    continue
                for offset in range(panels, 2 * panels):
                    # Past the last block, the address lies beyond the weights: a prefetch
                    # is only a hint (llvm.prefetch never faults), and a constant offset
                    # from the weights' own address needs no register of its own.
                    panel = arith.addi(read.indices[0], arith.constant(index, offset))
                    prefetch(read.base, [panel, read.indices[1], zero])
