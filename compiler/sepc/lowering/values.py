"""Small builders of Linalg/tensor IR that the lowerings share, and the tags of a chain.

Each layer becomes a short chain `init -> main -> epilogue` whose ops carry a `sep.part`
tag ("LAYER:init", "LAYER:main", ...); the last op of the chain also carries `sep.kernel`
(the schedule kind of its loop nest: a key of sepc.schedules.SCHEDULES) and `sep.layer`, so
the per-target schedule can tile the last op and fuse the rest of the chain into it.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg, tensor

from ..passes.ir_util import shape_of

Body = Callable[..., ir.Value]


def f32() -> ir.Type:
    return ir.F32Type.get()


def f32_const(value: float) -> ir.Value:
    return arith.ConstantOp(f32(), float(value)).result


def empty(shape: Sequence[int]) -> ir.Value:
    return tensor.EmptyOp(list(shape), f32()).result


def tag(value: Any, layer: str, role: str, kernel: str | None = None) -> ir.Value:
    """Mark an op (or the op defining a value) as part `role` of `layer`'s chain."""
    if not isinstance(value, ir.Value):  # some builders return the op, not its result
        value = value.results[0]
    op = value.owner
    op.attributes["sep.part"] = ir.StringAttr.get(f"{layer}:{role}")
    if kernel is not None:
        op.attributes["sep.kernel"] = ir.StringAttr.get(kernel)
        op.attributes["sep.layer"] = ir.StringAttr.get(layer)
    return value


def identity_maps(rank: int, count: int) -> list[ir.AffineMap]:
    return [ir.AffineMap.get_identity(rank)] * count


def elementwise(inputs: list[ir.Value], init: ir.Value, body: Body,
                extra_maps: list[ir.AffineMap] | None = None) -> ir.Value:
    """A parallel linalg.generic over init's shape; body(*scalars) -> scalar."""
    rank = len(shape_of(init))
    maps = (extra_maps or identity_maps(rank, len(inputs))) + [ir.AffineMap.get_identity(rank)]

    @linalg.generic(inputs, [init], maps, [linalg.IteratorType.parallel] * rank)
    def result(*args: ir.Value) -> ir.Value:
        return body(*args[:-1])

    return result


def in_place(value: ir.Value, body: Body) -> ir.Value:
    """body applied to every element of `value`, written over it (outs only, no ins)."""
    rank = len(shape_of(value))

    @linalg.generic([], [value], [ir.AffineMap.get_identity(rank)],
                    [linalg.IteratorType.parallel] * rank)
    def out(v: ir.Value) -> ir.Value:
        return body(v)

    return out


def collapse_to_2d(value: ir.Value) -> ir.Value:
    shape = shape_of(value)
    groups = [list(range(len(shape) - 1)), [len(shape) - 1]]
    rows = int(np.prod(shape[:-1]))
    return tensor.collapse_shape(ir.RankedTensorType.get([rows, shape[-1]], f32()), value, groups)


def expand_from_2d(value: ir.Value, shape: Sequence[int]) -> ir.Value:
    groups = [list(range(len(shape) - 1)), [len(shape) - 1]]
    return tensor.expand_shape(ir.RankedTensorType.get(list(shape), f32()), value, groups,
                               [], list(shape))
