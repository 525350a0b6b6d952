"""fill-pad-borders: a constant tensor.pad becomes fills of its borders plus the input
inserted in the middle. Bufferized as it is, tensor.pad fills the whole buffer and then
copies the input over most of it: every element written twice."""
from mlir import ir
from mlir.dialects import arith, linalg, tensor

from .ir_util import shape_of, walk_ops
from .registry import sep_pass


def constant_fill(pad: ir.OpView) -> ir.Value | None:
    """The padding value, if it is a constant."""
    body = pad.regions[0].blocks[0].operations
    yielded = body[len(body) - 1].operands[0]
    owner = yielded.owner if not isinstance(yielded, ir.BlockArgument) else None
    if owner is None or owner.name != "arith.constant":
        return None
    return yielded


@sep_pass("fill-pad-borders")
def fill_pad_borders(module: ir.Operation) -> None:
    """Rewrite static tensor.pad ops with a constant value into border fills and an insert."""
    for pad in walk_ops(module, ("tensor.pad",)):
        value = constant_fill(pad)
        low = list(ir.DenseI64ArrayAttr(pad.attributes["static_low"]))
        high = list(ir.DenseI64ArrayAttr(pad.attributes["static_high"]))
        if value is None or min(low + high) < 0 or len(pad.operands) != 1:
            continue          # dynamic padding amounts
        shape = shape_of(pad.operands[0])
        out_shape = shape_of(pad.result)
        element = ir.RankedTensorType(pad.result.type).element_type
        ones = [1] * len(shape)
        with ir.InsertionPoint(pad), pad.location:
            fill = arith.ConstantOp(element, ir.FloatAttr(value.owner.attributes["value"])).result
            out = tensor.EmptyOp(out_shape, element).result
            for dim in range(len(shape)):
                for offset, size in ((0, low[dim]), (out_shape[dim] - high[dim], high[dim])):
                    if size:
                        sizes = out_shape[:dim] + [size] + out_shape[dim + 1:]
                        offsets = [0] * dim + [offset] + [0] * (len(shape) - dim - 1)
                        border = linalg.fill(fill, outs=[tensor.EmptyOp(sizes, element).result])
                        out = tensor.insert_slice(border, out, [], [], [], offsets, sizes, ones)
            result = tensor.insert_slice(pad.operands[0], out, [], [], [], low, shape, ones)
        pad.result.replace_all_uses_with(result)
        pad.erase()
