"""lower-to-linalg: every `sep` op becomes Linalg named ops (or generics) on tensors, built by
its op table row's lowering (sepc/lowering/layers.py).

Each layer becomes a short chain `init -> main -> epilogue` whose ops carry a `sep.part`
tag ("LAYER:init", "LAYER:main", ...); the last op of the chain also carries `sep.kernel`
(what kind of loop nest it is) so the per-target schedule can tile the last op and fuse the
rest of the chain into it. Graph outputs are written in place: the function gains one
writable output tensor per result, and the last op of each output's chain computes into it.
"""
from __future__ import annotations

from mlir import ir
from mlir.dialects import bufferization, func

from ..lowering.builder import LayerBuilder
from ..ops import BY_SEP_OP, sep_ops_with
from .fuse_separable import FUSED_PRODUCER
from .ir_util import layer_name, walk_ops
from .registry import module_pass

LOWERINGS = sep_ops_with(lambda row: row.lower)


def add_output_arguments(fn: func.FuncOp) -> list[ir.Value]:
    """Give fn one writable tensor argument per result (destination-passing style)."""
    result_types = list(fn.type.results)
    entry = fn.entry_block
    outs = [entry.add_argument(t, ir.Location.unknown()) for t in result_types]
    inputs = list(fn.type.inputs)
    fn.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get(inputs + result_types, result_types))
    writable = ir.DictAttr.get({"bufferization.writable": ir.BoolAttr.get(True)})
    fn.arg_attrs = ir.ArrayAttr.get([ir.DictAttr.get({})] * len(inputs) + [writable] * len(outs))
    return outs


@module_pass("lower-to-linalg")
def lower_to_linalg(module: ir.Operation) -> None:
    """Lower every sep op to Linalg on tensors, writing graph outputs in place."""
    fn: func.FuncOp
    for fn in walk_ops(module, ("func.func",)):
        outs = add_output_arguments(fn)
        ret = fn.entry_block.operations[len(fn.entry_block.operations) - 1]
        first_output_of: dict[ir.Value, int] = {}   # a returned value -> the first slot it fills
        for index, value in enumerate(ret.operands):
            first_output_of.setdefault(value, index)
        in_place: set[int | None] = set()   # output slots whose layer computed into them
        for position, op in enumerate(walk_ops(fn.operation, tuple(LOWERINGS))):
            if FUSED_PRODUCER in op.attributes:
                continue              # lowered with its consumer, by lower_separable
            slot = first_output_of.get(op.result)
            row = BY_SEP_OP[op.name].row
            builder = LayerBuilder(layer_name(op, position), row.schedule_kinds,
                                   None if slot is None else outs[slot])
            with ir.InsertionPoint(op), op.location:
                result = LOWERINGS[op.name](op, builder)
            if builder.used_dest:
                in_place.add(slot)
            op.result.replace_all_uses_with(result)
            op.erase()
        # An output computed in its own buffer is returned as is (bufferization then drops
        # the result); any other (an input passed through, a value listed twice) is copied.
        with ir.InsertionPoint(ret), ir.Location.unknown():
            results = [value if index in in_place
                       else bufferization.materialize_in_destination(value.type, value, out)
                       for index, (value, out) in enumerate(zip(ret.operands, outs, strict=True))]
            func.ReturnOp(results)
        ret.erase()
