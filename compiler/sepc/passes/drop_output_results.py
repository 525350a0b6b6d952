"""drop-output-results: after bufferization the function writes every output into its
output argument, yet still returns it, often through a reshape view that upstream
`drop-equivalent-buffer-results` does not see through. Returned memrefs would make the
deallocation pipeline clone them; dropping them leaves a `void f(in..., out...)` entry."""
from mlir import ir
from mlir.dialects import func

from ..errors import InternalError
from .ir_util import defining_op, walk_ops
from .registry import module_pass

VIEW_OPS = ("memref.expand_shape", "memref.collapse_shape", "memref.cast")


def root_argument(value: ir.Value) -> ir.Value | None:
    """The function argument value is a view of, or None."""
    while (owner := defining_op(value)) is not None:
        if owner.name not in VIEW_OPS:
            return None
        value = owner.operands[0]
    return value


@module_pass("drop-output-results")
def drop_output_results(module: ir.Operation) -> None:
    """Remove function results that are (views of) the function's own arguments."""
    fn: func.FuncOp
    for fn in walk_ops(module, ("func.func",)):
        ret = fn.entry_block.operations[len(fn.entry_block.operations) - 1]
        if any(root_argument(v) is None for v in ret.operands):
            raise InternalError(f"{fn.sym_name.value}: an output was not written in place")
        with ir.InsertionPoint(ret), ret.location:
            func.ReturnOp([])
        ret.erase()
        fn.attributes["function_type"] = ir.TypeAttr.get(
            ir.FunctionType.get(list(fn.type.inputs), []))
