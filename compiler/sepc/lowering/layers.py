"""One lowering per `sep` op (the op table, sepc/ops.py, maps each op to its function):
the op becomes a chain of Linalg ops on tensors, built and tagged with a LayerBuilder.
"""
from __future__ import annotations

import math as pymath
from typing import Callable, Sequence

import numpy as np
from mlir import ir
from mlir.dialects import arith, linalg, tensor

from ..passes.fuse_separable import FUSED, padded_filters, panel_of
from ..passes.pack_matmul_weights import packed_panel
from ..passes.ir_util import (batch_norm_affine, constant_array, float_array, int_array,
                              is_pointwise,
                              is_zero_constant, shape_of, string_attr, tensor_constant)
from .activations import ACTIVATIONS, F32_LOWEST, softmax
from .builder import LayerBuilder
from .values import collapse_to_2d, elementwise, empty, expand_from_2d, f32, f32_const, tag


def pad(value: ir.Value, pairs: Sequence[tuple[int, int]], fill: float = 0.0) -> ir.Value:
    """tensor.pad of the spatial dims (between batch and channels); a no-op without padding."""
    if not any(b or a for b, a in pairs):
        return value
    shape = shape_of(value)
    low = [0] + [b for b, _ in pairs] + [0]
    high = [0] + [a for _, a in pairs] + [0]
    out_shape = [s + lo + hi for s, lo, hi in zip(shape, low, high, strict=True)]
    result_type = ir.RankedTensorType.get(out_shape, f32())
    op = tensor.PadOp(result_type, value, [], [], low, high)
    block = op.region.blocks.append(*([ir.IndexType.get()] * len(shape)))
    with ir.InsertionPoint(block):
        tensor.YieldOp(f32_const(fill))
    return op.result


def padding_pairs(op: ir.OpView) -> list[tuple[int, int]]:
    return pairs_of(op, "padding")


def pairs_of(op: ir.OpView, name: str) -> list[tuple[int, int]]:
    flat = int_array(op, name)
    return list(zip(flat[0::2], flat[1::2], strict=True))


def replicate_channels(x: ir.Value, multiplier: int, layer: str) -> ir.Value:
    """x[..., c] -> x'[..., c*M + m]: depthwise with multiplier M as plain depthwise on C*M."""
    shape = shape_of(x)
    rank = len(shape)
    wide = empty(shape + [multiplier])
    dims = [ir.AffineDimExpr.get(i) for i in range(rank + 1)]
    in_map = ir.AffineMap.get(rank + 1, 0, dims[:rank])
    out_map = ir.AffineMap.get_identity(rank + 1)

    @linalg.generic([x], [wide], [in_map, out_map], [linalg.IteratorType.parallel] * (rank + 1))
    def replicated(v: ir.Value, _o: ir.Value) -> ir.Value:
        return v

    tag(replicated, layer, "replicate")
    groups = [[i] for i in range(rank - 1)] + [[rank - 1, rank]]
    collapsed = ir.RankedTensorType.get(shape[:-1] + [shape[-1] * multiplier], f32())
    return tensor.collapse_shape(collapsed, replicated, groups)


# --- per-op lowerings -------------------------------------------------------------------

def lower_depthwise(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    x, kernel_value, bias = op.operands
    kernel = constant_array(kernel_value)
    multiplier = kernel.shape[-1]
    spatial = kernel.ndim - 2
    if multiplier > 1:
        x = replicate_channels(x, multiplier, b.layer)
    flat_kernel = tensor_constant(kernel.reshape(kernel.shape[:-2] + (-1,)))
    pairs = padding_pairs(op)
    padded = pad(x, pairs)
    if b.prefix and any(before for before, _ in pairs):
        # A fused kernel pads per tile (schedules/separable.py). Padding only after the
        # input (stride-2 'same') is not copied at all: the vectorized depthwise reads the
        # input itself, out-of-bounds reads giving the zeros.
        b.tag(padded, "pad")
    x = padded
    out_shape = shape_of(op.result)
    activation = string_attr(op, "activation")
    init = b.bias_init(bias, out_shape)
    conv = (linalg.depthwise_conv_2d_nhwc_hwc if spatial == 2 else linalg.depthwise_conv_1d_nwc_wc)
    main = conv(x, flat_kernel, outs=[init], strides=int_array(op, "strides"),
                dilations=int_array(op, "dilations"))
    return b.convolve(main, activation, f"depthwise{spatial}d")


def lower_pointwise(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """A 1x1 conv is a matmul over (N*H*W, C) x (C, F); strides subsample the input first."""
    x, kernel_value, bias = op.operands
    strides = int_array(op, "strides")
    out_shape = shape_of(op.result)
    if any(s > 1 for s in strides):
        in_shape = shape_of(x)
        sizes = [in_shape[0]] + out_shape[1:-1] + [in_shape[-1]]
        x = tensor.extract_slice(ir.RankedTensorType.get(sizes, f32()), x, [], [], [],
                                 [0] * len(sizes), sizes, [1] + strides + [1])
    kernel = constant_array(kernel_value)
    return matmul_layer(op, collapse_to_2d(x), kernel.reshape(kernel.shape[-2:]), bias, b)


def matmul_layer(op: ir.OpView, rows: ir.Value, kernel: np.ndarray, bias: ir.Value,
                 b: LayerBuilder) -> ir.Value:
    """(M, K) x (K, F) + bias, activated; with packed weight panels where
    pack-matmul-weights marked the op."""
    activation, out_shape = string_attr(op, "activation"), shape_of(op.result)
    panel = packed_panel(op)
    flat_shape = [int(np.prod(out_shape[:-1])), out_shape[-1]]
    if panel is not None:
        result = panel_contraction(rows, kernel, bias, activation, flat_shape, panel,
                                   "packed_matmul", b)
        return result if len(out_shape) == 2 else expand_from_2d(result, out_shape)
    weights = tensor_constant(kernel)
    init = b.bias_init(bias, flat_shape)
    main = linalg.matmul(rows, weights, outs=[init])
    result = b.convolve(main, activation, "matmul")
    return result if len(out_shape) == 2 else expand_from_2d(result, out_shape)


def panel_contraction(x: ir.Value, kernel: np.ndarray, bias: ir.Value, activation: str,
                      out_shape: list[int], width: int, kind: str, b: LayerBuilder) -> ir.Value:
    """x (..., C) times 1x1 weights (C, F) packed at compile time as (F/P, C, P), P = width
    filters a panel, into an output blocked as (..., F/P, P): the panel of weights a
    register block reads over the whole reduction is one contiguous stretch of memory.
    Loop dims: the pixel dims (batch, spatial, or rows), panel, lane, then the channel
    reduction. The fused separable kernel's 1x1 conv and the packed matmul."""
    packed, bias, panels = pack_panels(kernel, bias, width)
    rank = len(out_shape)
    blocked_shape = out_shape[:-1] + [panels, width]
    padding = panels * width - out_shape[-1]
    final = empty(out_shape[:-1] + [panels * width]) if padding else b.final_init(out_shape)
    groups = [[d] for d in range(rank - 1)] + [[rank - 1, rank]]
    dest = tensor.expand_shape(ir.RankedTensorType.get(blocked_shape, f32()), final, groups, [],
                               blocked_shape)
    init = b.bias_init(bias, blocked_shape, into=dest)
    pixel = list(range(rank - 1))
    panel, lane, channel = rank - 1, rank, rank + 1
    dims = rank + 2

    def affine(*positions: int) -> ir.AffineMap:
        return ir.AffineMap.get(dims, 0, [ir.AffineDimExpr.get(p) for p in positions])

    maps = [affine(*pixel, channel), affine(panel, channel, lane), affine(*pixel, panel, lane)]
    iterators = [linalg.IteratorType.parallel] * (dims - 1) + [linalg.IteratorType.reduction]

    @linalg.generic([x, packed], [init], maps, iterators)
    def main(v: ir.Value, w: ir.Value, acc: ir.Value) -> ir.Value:
        return arith.addf(acc, arith.mulf(v, w))

    if activation == "softmax":
        # Over the real filters, not a panel: a chain of its own after the unblocking, in
        # place unless padded filters are dropped on the way.
        b.tag(main, "main", kind)
        flat = unblock(main, out_shape)
        return softmax(flat, b.final_init(out_shape) if padding else flat,
                       b.named(f"{b.layer}/softmax"))
    return unblock(b.convolve(main, activation, kind), out_shape)


def pack_panels(kernel: np.ndarray, bias: ir.Value, width: int) -> tuple[ir.Value, ir.Value, int]:
    """1x1 weights (C, F) packed at compile time as (F/P, C, P) panels of P = width filters,
    the last padded with zero filters, the bias (if any) padded and blocked (F/P, P) to
    match; and the panel count."""
    channels, filters = kernel.shape
    panels = padded_filters(filters, width) // width
    padding = panels * width - filters      # zero filters of a last, padded panel
    kernel = np.pad(kernel, [(0, 0), (0, padding)])
    packed = tensor_constant(kernel.reshape(channels, panels, width).transpose(1, 0, 2))
    if not is_zero_constant(bias):
        bias = tensor_constant(np.pad(constant_array(bias), [(0, padding)]).reshape(panels, width))
    return packed, bias, panels


def unblock(blocked: ir.Value, out_shape: list[int]) -> ir.Value:
    """An output blocked (..., F/P, P) as (..., F): collapsed, and the padded filters of a
    last panel dropped by a view (the next kernel reads the first F channels in place)."""
    shape = shape_of(blocked)
    rank = len(shape) - 1
    padded_shape = shape[:-2] + [shape[-2] * shape[-1]]
    groups = [[d] for d in range(rank - 1)] + [[rank - 1, rank]]
    flat = tensor.collapse_shape(ir.RankedTensorType.get(padded_shape, f32()), blocked, groups)
    if padded_shape == out_shape:
        return flat
    return tensor.extract_slice(ir.RankedTensorType.get(out_shape, f32()), flat, [], [], [],
                                [0] * rank, out_shape, [1] * rank)


def lower_separable(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """A 1x1 conv and the depthwise conv feeding it, as one kernel: the schedule tiles the
    1x1 conv's output and computes the depthwise tile it reads inside the same tile. The
    1x1 conv is a panel_contraction, its panel width fuse-separable's choice."""
    depthwise = op.operands[0].owner    # the op fuse-separable marked
    mid = lower_depthwise(depthwise, LayerBuilder(b.layer, b.kinds, prefix="dw_"))
    depthwise.result.replace_all_uses_with(mid)
    depthwise.erase()
    _, kernel_value, bias = op.operands
    kernel = constant_array(kernel_value)
    spatial = len(shape_of(op.result)) - 2
    return panel_contraction(mid, kernel.reshape(kernel.shape[-2:]), bias,
                             string_attr(op, "activation"), shape_of(op.result), panel_of(op),
                             f"separable{spatial}d", b)


def lower_conv(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    if FUSED in op.attributes:
        return lower_separable(op, b)
    if is_pointwise(op):
        return lower_pointwise(op, b)
    x, kernel, bias = op.operands
    spatial = len(int_array(op, "strides"))
    x = pad(x, padding_pairs(op))
    activation = string_attr(op, "activation")
    init = b.bias_init(bias, shape_of(op.result))
    conv = linalg.conv_2d_nhwc_hwcf if spatial == 2 else linalg.conv_1d_nwc_wcf
    main = conv(x, kernel, outs=[init], strides=int_array(op, "strides"),
                dilations=int_array(op, "dilations"))
    return b.convolve(main, activation, f"conv{spatial}d")


def lower_dense(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    x, kernel, bias = op.operands
    rows = x if len(shape_of(x)) == 2 else collapse_to_2d(x)
    return matmul_layer(op, rows, constant_array(kernel), bias, b)


def lower_batch_norm(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """A batch norm with nothing to fold into: x * scale + shift per channel."""
    scale, shift = batch_norm_affine(op)
    shape = shape_of(op.result)
    rank = len(shape)
    channel_map = ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(rank - 1)])
    maps = [ir.AffineMap.get_identity(rank), channel_map, channel_map]
    out = elementwise([op.operands[0], tensor_constant(scale), tensor_constant(shift)],
                      b.final_init(shape), lambda v, s, t: arith.addf(arith.mulf(v, s), t), maps)
    return finish_elementwise(out, string_attr(op, "activation"), b)


def finish_elementwise(out: ir.Value, activation: str, b: LayerBuilder) -> ir.Value:
    if activation == "linear":
        return b.tag(out, "main", "elementwise")
    b.tag(out, "main")
    return b.activate(out, activation, "elementwise")


def lower_activation(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """A standalone activation (its input has other uses): out of place."""
    x = op.operands[0]
    activation = string_attr(op, "activation")
    if activation == "linear":
        return x
    if activation == "softmax":
        return softmax(x, b.final_init(shape_of(x)), b)
    body = ACTIVATIONS[activation].body
    assert body is not None    # only linear and softmax have none
    out = elementwise([x], b.final_init(shape_of(x)), body)
    return b.tag(out, "main", "elementwise")


def combine(op: ir.OpView, b: LayerBuilder, operation: Callable[[ir.Value, ir.Value], ir.Value],
            maps: list[ir.AffineMap] | None = None, inputs: list[ir.Value] | None = None
            ) -> ir.Value:
    """The elementwise fold of the op's inputs by `operation` (add, multiply), activated in
    the same generic (softmax after it)."""
    inputs = list(op.operands) if inputs is None else inputs
    shape = shape_of(op.result)
    activation = string_attr(op, "activation")
    body = ACTIVATIONS[activation].body or (lambda v: v)  # softmax: applied after

    def total(*values: ir.Value) -> ir.Value:
        acc = values[0]
        for v in values[1:]:
            acc = operation(acc, v)
        return body(acc)

    out = elementwise(inputs, b.final_init(shape), total, maps)
    if activation == "softmax":
        b.tag(out, "main")
        return b.activate(out, activation, "elementwise")
    return b.tag(out, "main", "elementwise")


def lower_add(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    return combine(op, b, arith.addf)


def lower_multiply(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """An operand of shape (N, 1.., C) is read as (N, C) at every spatial position."""
    shape = shape_of(op.result)
    rank = len(shape)
    full = ir.AffineMap.get_identity(rank)
    per_channel = ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(0),
                                             ir.AffineDimExpr.get(rank - 1)])
    inputs, maps = [], []
    for value in op.operands:
        if shape_of(value) == shape:
            inputs.append(value)
            maps.append(full)
        else:
            inputs.append(collapse_to_batch_channels(value))
            maps.append(per_channel)
    return combine(op, b, arith.mulf, maps, inputs)


def collapse_to_batch_channels(value: ir.Value) -> ir.Value:
    """(N, 1.., C) as (N, C)."""
    shape = shape_of(value)
    groups = [[0], list(range(1, len(shape)))]
    return tensor.collapse_shape(ir.RankedTensorType.get([shape[0], shape[-1]], f32()), value,
                                 groups)


def lower_rescaling(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """x * scale + offset: a number is a constant of the body, one per channel a tensor
    read along the last axis."""
    shape = shape_of(op.result)
    rank = len(shape)
    channel_map = ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(rank - 1)])
    inputs, maps = [op.operands[0]], [ir.AffineMap.get_identity(rank)]
    terms: list[float | None] = []    # None: read from the next input
    for name in ("scale", "offset"):
        values = float_array(op, name)
        if len(values) == 1:
            terms.append(values[0])
        else:
            inputs.append(tensor_constant(np.asarray(values, np.float32)))
            maps.append(channel_map)
            terms.append(None)

    def body(v: ir.Value, *per_channel: ir.Value) -> ir.Value:
        read = iter(per_channel)
        scale, offset = (next(read) if t is None else t for t in terms)
        if not (isinstance(scale, float) and scale == 1.0):
            v = arith.mulf(v, f32_const(scale) if isinstance(scale, float) else scale)
        if not (isinstance(offset, float) and offset == 0.0):
            v = arith.addf(v, f32_const(offset) if isinstance(offset, float) else offset)
        return v

    out = elementwise(inputs, b.final_init(shape), body, maps)
    return finish_elementwise(out, string_attr(op, "activation"), b)


def copy_into(value: ir.Value, dest: ir.Value, b: LayerBuilder) -> ir.Value:
    """value copied into dest (of its shape) by an elementwise generic, the root of a chain."""
    return b.tag(linalg.copy(value, outs=[dest]), "main", "elementwise")


def lower_concatenate(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """Each input copied into its channels of the output, a chain of its own (the first
    under the layer's name, the others `LAYER/INDEX`)."""
    out_shape = shape_of(op.result)
    rank = len(out_shape)
    dest = b.final_init(out_shape)
    start = 0
    for index, value in enumerate(op.operands):
        shape = shape_of(value)
        offsets = [0] * (rank - 1) + [start]
        part = tensor.extract_slice(ir.RankedTensorType.get(shape, f32()), dest, [], [], [],
                                    offsets, shape, [1] * rank)
        copied = copy_into(value, part, b if index == 0 else b.named(f"{b.layer}/{index}"))
        dest = tensor.insert_slice(copied, dest, [], [], [], offsets, shape, [1] * rank)
        start += shape[-1]
    return dest


def lower_cropping(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    """The kept window of the input, copied out (so no later kernel reads a strided view)."""
    x = op.operands[0]
    out_shape = shape_of(op.result)
    (top, _), (left, _) = pairs_of(op, "cropping")
    window = tensor.extract_slice(ir.RankedTensorType.get(out_shape, f32()), x, [], [], [],
                                  [0, top, left, 0], out_shape, [1, 1, 1, 1])
    return copy_into(window, b.final_init(out_shape), b)


def lower_zero_padding(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    return pad(op.operands[0], padding_pairs(op))


def window_attrs(op: ir.OpView) -> tuple[list[int], list[int]]:
    return int_array(op, "pool_size"), int_array(op, "strides")


def lower_max_pool(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    pool, strides = window_attrs(op)
    x = pad(op.operands[0], padding_pairs(op), fill=F32_LOWEST)
    init = linalg.fill(f32_const(F32_LOWEST), outs=[b.final_init(shape_of(op.result))])
    b.tag(init, "init")
    out = linalg.pooling_nhwc_max(x, empty(pool), outs=[init], strides=strides, dilations=[1, 1])
    return b.tag(out, "main", "pool2d")


def real_element_counts(op: ir.OpView) -> np.ndarray:
    """How many unpadded input elements each output window covers, per (oh, ow)."""
    (kh, kw), (sh, sw) = window_attrs(op)
    (top, _), (left, _) = padding_pairs(op)
    _, height, width, _ = shape_of(op.operands[0])
    _, out_h, out_w, _ = shape_of(op.result)

    def covered(size: int, out: int, k: int, stride: int, before: int) -> np.ndarray:
        starts = np.arange(out) * stride - before
        return np.clip(starts + k, 0, size) - np.clip(starts, 0, size)

    return np.outer(covered(height, out_h, kh, sh, top), covered(width, out_w, kw, sw, left))


def lower_avg_pool(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    pool, strides = window_attrs(op)
    x = pad(op.operands[0], padding_pairs(op))
    shape = shape_of(op.result)
    init = b.tag(linalg.fill(f32_const(0.0), outs=[empty(shape)]), "init")
    sums = b.tag(linalg.pooling_nhwc_sum(x, empty(pool), outs=[init], strides=strides,
                                         dilations=[1, 1]), "main")
    reciprocal = tensor_constant(1.0 / real_element_counts(op))
    dims = [ir.AffineDimExpr.get(i) for i in range(4)]
    maps = [ir.AffineMap.get_identity(4), ir.AffineMap.get(4, 0, dims[1:3])]
    out = elementwise([sums, reciprocal], b.final_init(shape), arith.mulf, maps)
    return b.tag(out, "epilogue", "pool2d")


def lower_global_avg_pool(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    x = op.operands[0]
    shape = shape_of(x)
    rank = len(shape)
    batch, channels = shape[0], shape[-1]
    dims = [ir.AffineDimExpr.get(i) for i in range(rank)]
    out_map = ir.AffineMap.get(rank, 0, [dims[0], dims[-1]])
    iterators = ([linalg.IteratorType.parallel] + [linalg.IteratorType.reduction] * (rank - 2)
                 + [linalg.IteratorType.parallel])
    # The sums are tagged "reduce", not "main": their iteration space is not the
    # epilogue's; the schedule fuses them into each channel tile of it (Strategy.producers).
    init = b.tag(linalg.fill(f32_const(0.0), outs=[empty([batch, channels])]), "reduce_init")

    @linalg.generic([x], [init], [ir.AffineMap.get_identity(rank), out_map], iterators)
    def sums(v: ir.Value, acc: ir.Value) -> ir.Value:
        return arith.addf(v, acc)

    b.tag(sums, "reduce")
    scale = 1.0 / pymath.prod(shape[1:-1])
    result_shape = shape_of(op.result)
    keepdims = len(result_shape) != 2
    dest = b.final_init([batch, channels]) if not keepdims else empty([batch, channels])
    out = elementwise([sums], dest, lambda v: arith.mulf(v, f32_const(scale)))
    b.tag(out, "epilogue", "elementwise")
    if not keepdims:
        return out
    groups = [list(range(rank - 1)), [rank - 1]]
    return tensor.expand_shape(op.result.type, out, groups, [], result_shape)


def lower_reshape(op: ir.OpView, b: LayerBuilder) -> ir.Value:
    x = op.operands[0]
    in_shape, out_shape = shape_of(x), shape_of(op.result)
    flat_type = ir.RankedTensorType.get([in_shape[0], int(np.prod(in_shape[1:]))], f32())
    flat = tensor.collapse_shape(flat_type, x, [[0], list(range(1, len(in_shape)))])
    if len(out_shape) == 2:
        return flat
    return tensor.expand_shape(op.result.type, flat, [[0], list(range(1, len(out_shape)))],
                               [], out_shape)
