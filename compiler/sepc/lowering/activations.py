"""Activations: the table of model.json activations (part of the op table, sepc/ops.py)
and the scalar bodies they lower to inside a linalg.generic.

`linear` builds nothing and `softmax` is a chain of its own (reductions over the last
axis); every other activation is elementwise: its body maps one f32 to one f32 and is
applied in registers, fused into the epilogue of the layer it follows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg

from ..passes.ir_util import shape_of
from . import elementary
from .values import elementwise, empty, f32_const

if TYPE_CHECKING:
    from .builder import LayerBuilder

F32_LOWEST = float(np.finfo(np.float32).min)


def relu(x: ir.Value) -> ir.Value:
    # nsz: relu(-0.0) may be -0.0, which lets x86 clamp with one vmaxps (NaN still
    # propagates); without it LLVM adds a NaN compare and blend to every vector.
    return arith.maximumf(x, f32_const(0.0), fastmath=ir.Attribute.parse("#arith.fastmath<nsz>"))


def relu6(x: ir.Value) -> ir.Value:
    return arith.minimumf(relu(x), f32_const(6.0))


def hard_swish(x: ir.Value) -> ir.Value:
    return arith.mulf(arith.mulf(x, relu6(arith.addf(x, f32_const(3.0)))), f32_const(1.0 / 6.0))


def hard_sigmoid(x: ir.Value) -> ir.Value:
    """Keras 3's: relu6(x + 3) / 6 (ONNX HardSigmoid with alpha 1/6, beta 0.5)."""
    return arith.mulf(relu6(arith.addf(x, f32_const(3.0))), f32_const(1.0 / 6.0))


def swish(x: ir.Value) -> ir.Value:
    """x * sigmoid(x), also called silu."""
    return arith.mulf(x, elementary.sigmoid(x))


@dataclass(frozen=True)
class Activation:
    """body: the scalar function an elementwise activation applies (None: `linear`, which
    applies nothing, and `softmax`, which normalises a whole row)."""
    body: Callable[[ir.Value], ir.Value] | None


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(None),
    "relu": Activation(relu),
    "relu6": Activation(relu6),
    "hard_swish": Activation(hard_swish),
    "sigmoid": Activation(elementary.sigmoid),
    "tanh": Activation(elementary.tanh),
    "softmax": Activation(None),
    "hard_sigmoid": Activation(hard_sigmoid),
    "swish": Activation(swish),
    "silu": Activation(swish),
}


def softmax(x: ir.Value, init: ir.Value, b: LayerBuilder) -> ir.Value:
    """Softmax over the last axis as reductions and elementwise generics."""
    shape = shape_of(x)
    rank = len(shape)
    dims = [ir.AffineDimExpr.get(i) for i in range(rank)]
    reduced_map = ir.AffineMap.get(rank, 0, dims[:-1])
    full = ir.AffineMap.get_identity(rank)
    iterators = [linalg.IteratorType.parallel] * (rank - 1) + [linalg.IteratorType.reduction]

    maximum = linalg.fill(f32_const(F32_LOWEST), outs=[empty(shape[:-1])])

    @linalg.generic([x], [maximum], [full, reduced_map], iterators)
    def row_max(v: ir.Value, acc: ir.Value) -> ir.Value:
        return arith.maximumf(v, acc)

    exps = elementwise([x, row_max], empty(shape), lambda v, mx: elementary.exp(arith.subf(v, mx)),
                       [full, reduced_map])
    zero = linalg.fill(f32_const(0.0), outs=[empty(shape[:-1])])

    @linalg.generic([exps], [zero], [full, reduced_map], iterators)
    def row_sum(v: ir.Value, acc: ir.Value) -> ir.Value:
        return arith.addf(v, acc)

    out = elementwise([exps, row_sum], init, lambda e, s: arith.divf(e, s), [full, reduced_map])
    return b.tag(out, "epilogue", "softmax")
