"""partition-parallel-loops: each outermost scf.parallel becomes an OpenMP parallel region
in which every thread runs its own share of the iterations, computed from its thread number,
as a plain scf.for. upstream convert-scf-to-openmp emits a worksharing loop instead, which
calls the OpenMP runtime's __kmpc_for_static_init on every thread at every kernel: Debian's
libomp (14 and 19) formats debug strings in it, ~1.7 us a kernel, as long as a small layer.

The shares are the balanced static schedule's: the first (iterations % threads) threads
get one iteration more. A multi-dimensional loop is one linear space, each linear index
turned back into the loop's indices. Loops whose bodies allocate on the stack are left
to convert-scf-to-openmp, whose alloca_scope they need."""
from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, func, openmp, scf

from .ir_util import walk_ops
from .registry import module_pass

THREAD_NUMBER, THREAD_COUNT = "omp_get_thread_num", "omp_get_num_threads"


def outermost_parallel_loops(module: ir.Operation) -> list[ir.OpView]:
    loops = []
    for loop in walk_ops(module, ("scf.parallel",)):
        parent = loop.operation.parent
        while parent is not None and parent.name not in ("scf.parallel", "func.func"):
            parent = parent.operation.parent
        if parent is not None and parent.name == "func.func" \
                and not walk_ops(loop.operation, ("memref.alloca",)):
            loops.append(loop)
    return loops


def declare(module: ir.Operation, name: str) -> None:
    body = module.regions[0].blocks[0]
    if any(op.operation.name == "func.func" and ir.StringAttr(op.attributes["sym_name"]).value
           == name for op in body.operations):
        return
    with ir.InsertionPoint(body), ir.Location.unknown():
        func.FuncOp(name, ([], [ir.IntegerType.get_signless(32)]), visibility="private")


def thread_value(name: str) -> ir.Value:
    i32 = ir.IntegerType.get_signless(32)
    call = func.CallOp([i32], ir.FlatSymbolRefAttr.get(name), [])
    return arith.index_cast(ir.IndexType.get(), call.result)


def partition(loop: ir.OpView) -> None:
    index = ir.IndexType.get()
    n = len(loop.operation.regions[0].blocks[0].arguments)
    operands = list(loop.operands)
    lower, upper, step = operands[:n], operands[n:2 * n], operands[2 * n:3 * n]
    with ir.InsertionPoint(loop), loop.location:
        one = arith.constant(index, 1)
        trips = [arith.ceildivui(arith.subi(u, lo), s) for lo, u, s in zip(lower, upper, step,
                                                                           strict=True)]
        total = trips[0]
        for trip in trips[1:]:
            total = arith.muli(total, trip)
        region = openmp.ParallelOp([], [], [], [])
        block = region.regions[0].blocks.append()
    with ir.InsertionPoint(block), loop.location:
        thread, threads = thread_value(THREAD_NUMBER), thread_value(THREAD_COUNT)
        share, extra = arith.divui(total, threads), arith.remui(total, threads)
        begin = arith.addi(arith.muli(thread, share), arith.minui(thread, extra))
        longer = arith.cmpi(arith.CmpIPredicate.ult, thread, extra)
        zero = arith.constant(index, 0)
        end = arith.addi(arith.addi(begin, share), arith.select(longer, one, zero))
        for_op = scf.ForOp(begin, end, one)
        openmp.TerminatorOp()
    with ir.InsertionPoint(for_op.body), loop.location:
        rest, ivs = for_op.induction_variable, []
        for d in reversed(range(n)):
            position = arith.remui(rest, trips[d]) if d else rest
            if d:
                rest = arith.divui(rest, trips[d])
            ivs.append(arith.addi(lower[d], arith.muli(position, step[d])))
        ivs.reverse()
        yield_op = scf.YieldOp([])
    body = loop.operation.regions[0].blocks[0]
    for arg, iv in zip(body.arguments, ivs, strict=True):
        arg.replace_all_uses_with(iv)
    ops = list(body.operations)
    for op in ops[:-1]:          # the last is scf.reduce, with nothing to reduce
        op.move_before(yield_op)
    loop.operation.erase()


@module_pass("partition-parallel-loops")
def partition_parallel_loops(module: ir.Operation) -> None:
    """Turn each outermost scf.parallel into an omp.parallel whose threads each run their
    balanced static share of the iterations as an scf.for."""
    loops = outermost_parallel_loops(module)
    if not loops:
        return
    declare(module, THREAD_NUMBER)
    declare(module, THREAD_COUNT)
    for loop in loops:
        partition(loop)
