"""add-thread-control: a library whose tiles run as OpenMP parallel loops also exports
`void sepc_NAME_set_threads(int32_t)`. It sets OpenMP's thread count for the calling
thread only (an OpenMP internal control variable of that thread), so callers on different
threads each choose their own count and share no mutable state.

add-serial-thread-control: a single-threaded library exports the same function, which
does nothing, so that an application calls one API whatever the target."""
from mlir import ir
from mlir.dialects import func

from .ir_util import walk_ops
from .registry import module_pass

OPENMP_SETTER = "omp_set_num_threads"


def setter_symbol(entry: str) -> str:
    return f"{entry}_set_threads"


def add_setters(module: ir.Operation, openmp: bool) -> None:
    functions: list[func.FuncOp] = walk_ops(module, ("func.func",))
    entries = [ir.StringAttr(fn.attributes["sym_name"]).value
               for fn in functions if not fn.is_external]
    i32 = ir.IntegerType.get_signless(32)
    body = module.regions[0].blocks[0]
    with ir.InsertionPoint(body), ir.Location.unknown():
        if openmp:
            func.FuncOp(OPENMP_SETTER, ([i32], []), visibility="private")
        for entry in entries:
            setter = func.FuncOp(setter_symbol(entry), ([i32], []))
            block = setter.add_entry_block()
            with ir.InsertionPoint(block):
                if openmp:
                    func.CallOp([], ir.FlatSymbolRefAttr.get(OPENMP_SETTER), list(block.arguments))
                func.ReturnOp([])


@module_pass("add-thread-control")
def add_thread_control(module: ir.Operation) -> None:
    """Add `ENTRY_set_threads(i32)`, calling omp_set_num_threads, next to each entry."""
    add_setters(module, openmp=True)


@module_pass("add-serial-thread-control")
def add_serial_thread_control(module: ir.Operation) -> None:
    """Add `ENTRY_set_threads(i32)`, which does nothing, next to each entry."""
    add_setters(module, openmp=False)
