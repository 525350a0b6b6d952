"""Small helpers the Python passes share for reading and rewriting IR."""
from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.dialects import arith


def walk_ops(root: ir.Operation, names: tuple[str, ...] | None = None) -> list[ir.OpView]:
    """All ops nested in root (post-order: an op after the ops in its regions), optionally
    only those with one of `names`."""
    found = []

    def visit(op: ir.Operation) -> ir.WalkResult:
        if names is None or op.name in names:
            found.append(op.opview)
        return ir.WalkResult.ADVANCE

    root.walk(visit, ir.WalkOrder.POST_ORDER)
    return found


def constant_array(value: ir.Value) -> np.ndarray:
    """The float32 contents of a tensor produced by arith.constant."""
    attr = value.owner.attributes["value"]
    shape = ir.ShapedType(value.type).shape
    if ir.DenseElementsAttr(attr).is_splat:
        splat = ir.FloatAttr(ir.DenseElementsAttr(attr).get_splat_value()).value
        return np.full(shape, splat, np.float32)
    return np.array(ir.DenseFPElementsAttr(attr), dtype=np.float32).reshape(shape)


def defining_op(value: ir.Value) -> ir.OpView | None:
    """The op that produces value, or None for a block argument."""
    return None if isinstance(value, ir.BlockArgument) else value.owner


def is_zero_constant(value: ir.Value) -> bool:
    owner = defining_op(value)
    if owner is None or owner.name != "arith.constant":
        return False
    attr = ir.DenseElementsAttr(owner.attributes["value"])
    return attr.is_splat and ir.FloatAttr(attr.get_splat_value()).value == 0.0


def tensor_constant(array: np.ndarray) -> ir.Value:
    """An arith.constant at the current insertion point holding `array` as f32."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    ty = ir.RankedTensorType.get(list(array.shape), ir.F32Type.get())
    if array.size and np.all(array == array.flat[0]):
        attr = ir.DenseElementsAttr.get_splat(ty, ir.FloatAttr.get_f32(float(array.flat[0])))
    else:
        # ndarray is a buffer; numpy declares __buffer__ only for Python >= 3.12.
        attr = ir.DenseElementsAttr.get(array, type=ir.F32Type.get())  # type: ignore[call-overload]
    return arith.ConstantOp(ty, attr).result


def shape_of(value: ir.Value) -> list[int]:
    return list(ir.ShapedType(value.type).shape)


def int_array(op: ir.OpView, name: str) -> list[int]:
    return list(ir.DenseI64ArrayAttr(op.attributes[name]))


def float_array(op: ir.OpView, name: str) -> list[float]:
    return list(ir.DenseF64ArrayAttr(op.attributes[name]))


def is_pointwise(op: ir.OpView) -> bool:
    """A conv with a 1x1 window and no padding: a matmul over its pixels."""
    kernel_shape = shape_of(op.operands[1])
    return all(k == 1 for k in kernel_shape[:-2]) and not any(int_array(op, "padding"))


def named_attributes(attr: ir.Attribute) -> list[ir.NamedAttribute]:
    """The entries of a dictionary attribute, in order. (DictAttr iterates by index, through
    __getitem__ and __len__; its stubs declare no __iter__.)"""
    entries = ir.DictAttr(attr)
    return [entries[i] for i in range(len(entries))]


def string_attr(op: ir.OpView, name: str) -> str:
    return ir.StringAttr(op.attributes[name]).value


def use_count(value: ir.Value) -> int:
    return sum(1 for _ in value.uses)


def layer_name(op: ir.OpView, position: int) -> str:
    """The model.json layer an op came from (its NameLoc); hand-written IR may have none,
    and then the op's kind and its position among the ops being rewritten name it."""
    loc = op.location
    return loc.name_str if loc.is_a_name() else f"{op.name.split('.')[-1]}{position}"


def batch_norm_affine(bn: ir.OpView) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) with batch_norm(x) == x * scale + shift, computed in float64."""
    gamma, beta, mean, variance = (constant_array(v).astype(np.float64) for v in bn.operands[1:])
    epsilon = ir.FloatAttr(bn.attributes["epsilon"]).value
    scale = gamma / np.sqrt(variance + epsilon)
    return scale, beta - mean * scale
