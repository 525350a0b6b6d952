"""The shape rules of `sep` ops that IRDL cannot state, one per family of ops (the op table,
sepc/ops.py, names each op's rule); verify-sep runs them. A rule returns the problem, or
None."""
from __future__ import annotations

from mlir import ir

from .ir_util import shape_of


def _window(op: ir.OpView, channels_out: int) -> str | None:
    """Ranks, input channels, output channels, bias and padding of a sliding-window conv."""
    spatial = len(ir.DenseI64ArrayAttr(op.attributes["strides"]))
    x, kernel = shape_of(op.operands[0]), shape_of(op.operands[1])
    out = shape_of(op.result)
    if len(x) != spatial + 2 or len(out) != spatial + 2:
        return f"input/output rank must be {spatial + 2}"
    if len(kernel) != spatial + 2 or kernel[spatial] != x[-1]:
        return f"kernel {kernel} does not take {x[-1]} input channels"
    if out[-1] != channels_out or shape_of(op.operands[-1]) != [channels_out]:
        return (f"{channels_out} output channels expected, found {out[-1]} "
                f"(bias {shape_of(op.operands[-1])})")
    if len(ir.DenseI64ArrayAttr(op.attributes["padding"])) != 2 * spatial:
        return "padding needs a (before, after) pair per spatial dimension"
    return None


def conv(op: ir.OpView) -> str | None:
    return _window(op, shape_of(op.operands[1])[-1])


def depthwise(op: ir.OpView) -> str | None:
    kernel = shape_of(op.operands[1])
    return _window(op, kernel[-2] * kernel[-1]) if len(kernel) >= 2 else "kernel rank < 2"


def separable(op: ir.OpView) -> str | None:
    kernel, pointwise = shape_of(op.operands[1]), shape_of(op.operands[2])
    if len(kernel) < 2 or pointwise[-2] != kernel[-2] * kernel[-1]:
        return f"pointwise kernel {pointwise} does not follow depthwise kernel {kernel}"
    return _window(op, pointwise[-1])


def same_shapes(op: ir.OpView) -> str | None:
    found = {tuple(shape_of(v)) for v in op.operands} | {tuple(shape_of(op.result))}
    return None if len(found) == 1 else f"operands and result differ in shape: {sorted(found)}"


def broadcast_shapes(op: ir.OpView) -> str | None:
    """multiply: every operand the result's shape, or it with the spatial dimensions 1."""
    out = shape_of(op.result)
    for value in op.operands:
        shape = shape_of(value)
        if shape != out and not (len(shape) == len(out) >= 3 and shape[0] == out[0]
                                 and shape[-1] == out[-1] and all(d == 1 for d in shape[1:-1])):
            return f"operand of shape {shape} does not broadcast to the result's {out}"
    return None


def concatenated(op: ir.OpView) -> str | None:
    shapes, out = [shape_of(v) for v in op.operands], shape_of(op.result)
    if any(s[:-1] != out[:-1] for s in shapes) or sum(s[-1] for s in shapes) != out[-1]:
        return f"operands {shapes} do not concatenate along the last axis to {out}"
    return None
