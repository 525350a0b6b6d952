"""elide-zero-pads: a tensor.pad tiled into a loop pads only the tiles at the image's edges;
every other tile's amounts are zero at run time, yet bufferized it still allocates a buffer
and copies its input in (4 MB a call for a 16000-step 1-D sequence). Guarded by a run-time
test, those tiles read their input slice in place."""
from mlir import ir
from mlir.dialects import arith, scf, tensor

from .registry import module_pass
from .ir_util import walk_ops

DYNAMIC = ir.ShapedType.get_dynamic_size


def all_zero(amounts: list[ir.Value]) -> ir.Value:
    zero = arith.ConstantOp(ir.IndexType.get(), 0).result
    tests = [arith.cmpi(arith.CmpIPredicate.eq, a, zero) for a in amounts]
    result = tests[0]
    for test in tests[1:]:
        result = arith.andi(result, test)
    return result


@module_pass("elide-zero-pads")
def elide_zero_pads(module: ir.Operation) -> None:
    """Where a tensor.pad's dynamic amounts are all zero, use its source instead."""
    pad: tensor.PadOp
    for pad in walk_ops(module, ("tensor.pad",)):
        static = (list(ir.DenseI64ArrayAttr(pad.attributes["static_low"])) +
                  list(ir.DenseI64ArrayAttr(pad.attributes["static_high"])))
        amounts = list(pad.low) + list(pad.high)
        result_type = ir.RankedTensorType(pad.result.type)
        source_type = ir.RankedTensorType(pad.source.type)
        # A static non-zero amount always pads, and so does a static source dimension
        # shorter than the result's; without dynamic amounts there is nothing to test.
        if not amounts or any(s not in (0, DYNAMIC()) for s in static) \
                or not result_type.has_static_shape \
                or any(not source_type.is_dynamic_dim(d) and source_type.shape[d] != size
                       for d, size in enumerate(result_type.shape)):
            continue
        with ir.InsertionPoint(pad), pad.location:
            guard = scf.IfOp(all_zero(amounts), [result_type], has_else=True)
        with ir.InsertionPoint(guard.then_block), pad.location:
            scf.YieldOp([tensor.CastOp(result_type, pad.source).result])
        with ir.InsertionPoint(guard.else_block), pad.location:
            padded = scf.YieldOp([pad.result])
        pad.result.replace_all_uses_with(guard.results[0])
        padded.operation.operands[0] = pad.result
        pad.operation.move_before(padded.operation)
