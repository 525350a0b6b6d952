"""fill-pad-borders: a constant tensor.pad becomes fills of its borders plus the input
inserted in the middle. Bufferized as it is, tensor.pad fills the whole buffer and then
copies the input over most of it: every element written twice. Padding amounts may be
dynamic (a pad tiled into a loop, whose borders exist only at the image's edges)."""
from typing import Iterable, Sequence, Union

from mlir import ir
from mlir.dialects import arith, linalg, tensor

from .registry import module_pass
from .ir_util import walk_ops

DYNAMIC = ir.ShapedType.get_dynamic_size

Mixed = Union[int, ir.Value]   # a static size or offset, or the Value of a dynamic one


def constant_fill(pad: ir.OpView) -> ir.Value | None:
    """The padding value, if it is a constant."""
    body = pad.regions[0].blocks[0].operations
    yielded = body[len(body) - 1].operands[0]
    owner = yielded.owner if not isinstance(yielded, ir.BlockArgument) else None
    if owner is None or owner.name != "arith.constant":
        return None
    return yielded


def mixed(static: list[int], dynamic: Iterable[ir.Value]) -> list[Mixed]:
    """Static entries as ints, dynamic ones (the sentinel) as the next Value."""
    values = iter(dynamic)
    return [next(values) if s == DYNAMIC() else s for s in static]


def split(entries: Sequence[Mixed]) -> tuple[list[ir.Value], list[int]]:
    """(dynamic Values, static ints with the sentinel where a Value goes)."""
    return ([e for e in entries if isinstance(e, ir.Value)],
            [DYNAMIC() if isinstance(e, ir.Value) else e for e in entries])


def insert(source: ir.Value, dest: ir.Value, offsets: Sequence[Mixed],
           sizes: Sequence[Mixed]) -> ir.Value:
    dyn_offsets, static_offsets = split(offsets)
    dyn_sizes, static_sizes = split(sizes)
    return tensor.insert_slice(source, dest, dyn_offsets, dyn_sizes, [], static_offsets,
                               static_sizes, [1] * len(sizes))


def minus(total: int, amount: Mixed) -> Mixed:
    if isinstance(amount, int):
        return total - amount
    return arith.subi(arith.ConstantOp(ir.IndexType.get(), total).result, amount)


@module_pass("fill-pad-borders")
def fill_pad_borders(module: ir.Operation) -> None:
    """Rewrite tensor.pad ops with a constant value into border fills and an insert."""
    pad: tensor.PadOp
    for pad in walk_ops(module, ("tensor.pad",)):
        value = constant_fill(pad)
        result_type = ir.RankedTensorType(pad.result.type)
        if value is None or not result_type.has_static_shape:
            continue
        out_shape = list(result_type.shape)
        element = result_type.element_type
        low = mixed(list(ir.DenseI64ArrayAttr(pad.attributes["static_low"])), pad.low)
        high = mixed(list(ir.DenseI64ArrayAttr(pad.attributes["static_high"])), pad.high)
        with ir.InsertionPoint(pad), pad.location:
            source = pad.source
            source_type = ir.RankedTensorType(source.type)
            shape = [tensor.dim(source, arith.ConstantOp(ir.IndexType.get(), d).result)
                     if source_type.is_dynamic_dim(d) else source_type.shape[d]
                     for d in range(source_type.rank)]
            fill = arith.ConstantOp(element, ir.FloatAttr(value.owner.attributes["value"])).result
            out = tensor.EmptyOp(out_shape, element).result
            for dim in range(len(shape)):
                for offset, size in ((0, low[dim]), (minus(out_shape[dim], high[dim]), high[dim])):
                    if size == 0:
                        continue
                    sizes = out_shape[:dim] + [size] + out_shape[dim + 1:]
                    offsets = [0] * dim + [offset] + [0] * (len(shape) - dim - 1)
                    border = linalg.fill(fill, outs=[tensor.EmptyOp(sizes, element).result])
                    out = insert(border, out, offsets, sizes)
            result = insert(source, out, low, shape)
        pad.result.replace_all_uses_with(result)
        pad.erase()
