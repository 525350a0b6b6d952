"""The floating-point operations of one layer, from its validated attributes and shapes (the
op table's `flops`; `sepc profile` divides them by a layer's time).

A multiply-add counts 2, as GFLOP/s figures of convolutions usually count it; bias adds and
activations count nothing. Ops without arithmetic worth counting (padding, reshapes, max
pooling) count 0.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

Shape = Sequence[int]
# attrs, input shapes, output shape -> FLOPs
FlopsFn = Callable[[dict[str, Any], Sequence[Shape], Shape], int]


def pixels(shape: Shape) -> int:
    """Output positions: every dimension but the channels."""
    return math.prod(shape[:-1])


def conv(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return 2 * pixels(out) * math.prod(attrs["kernel_size"]) * inputs[0][-1] * out[-1]


def depthwise(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    # out[-1] is channels x depth multiplier: each output channel reads one input channel.
    return 2 * pixels(out) * math.prod(attrs["kernel_size"]) * out[-1]


def separable_parts(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> tuple[int, int]:
    """(depthwise, pointwise) FLOPs of a separable conv, the two ops split-separable makes."""
    mid = inputs[0][-1] * attrs["depth_multiplier"]
    return (2 * pixels(out) * mid * math.prod(attrs["kernel_size"]),
            2 * pixels(out) * mid * out[-1])


def separable(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return sum(separable_parts(attrs, inputs, out))


def dense(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return 2 * pixels(out) * inputs[0][-1] * out[-1]


def batch_norm(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    """x * scale + shift: one multiply-add per element (when it folds into the conv before
    it, that layer's own FLOPs are what the kernel computes)."""
    return 2 * math.prod(out)


def add(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return (len(inputs) - 1) * math.prod(out)


def multiply(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return (len(inputs) - 1) * math.prod(out)


def average_pool(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return math.prod(out) * math.prod(attrs["pool_size"])


def global_average_pool(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return math.prod(inputs[0])


def none(attrs: dict[str, Any], inputs: Sequence[Shape], out: Shape) -> int:
    return 0
