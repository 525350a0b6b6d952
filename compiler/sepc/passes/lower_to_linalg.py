"""lower-to-linalg: every `sep` op becomes Linalg named ops (or generics) on tensors.

Each layer becomes a short chain `init -> main -> epilogue` whose ops carry a `sep.part`
tag ("LAYER:init", "LAYER:main", ...); the last op of the chain also carries `sep.kernel`
(what kind of loop nest it is) so the per-target schedule can tile the last op and fuse the
rest of the chain into it. Graph outputs are written in place: the function gains one
writable output tensor per result, and the last op of each output's chain computes into it.
"""
from __future__ import annotations

import math as pymath
from dataclasses import dataclass, field

import numpy as np
from mlir import ir
from mlir.dialects import arith, bufferization, func, linalg, tensor

from . import elementary
from .fold_batch_norm import batch_norm_affine
from .fuse_separable import FUSED, FUSED_PRODUCER, PANEL
from .ir_util import (constant_array, defining_op, int_array, is_zero_constant, layer_name, shape_of,
                      string_attr, tensor_constant, walk_ops)
from .registry import sep_pass

F32_LOWEST = float(np.finfo(np.float32).min)


def f32():
    return ir.F32Type.get()


def f32_const(value: float) -> ir.Value:
    return arith.ConstantOp(f32(), float(value)).result


def empty(shape) -> ir.Value:
    return tensor.EmptyOp(list(shape), f32()).result


def tag(value, layer: str, role: str, kernel: str | None = None) -> ir.Value:
    """Mark an op (or the op defining a value) as part `role` of `layer`'s chain."""
    if not isinstance(value, ir.Value):  # some builders return the op, not its result
        value = value.results[0]
    op = value.owner
    op.attributes["sep.part"] = ir.StringAttr.get(f"{layer}:{role}")
    if kernel is not None:
        op.attributes["sep.kernel"] = ir.StringAttr.get(kernel)
        op.attributes["sep.layer"] = ir.StringAttr.get(layer)
    return value


def identity_maps(rank: int, count: int):
    return [ir.AffineMap.get_identity(rank)] * count


def elementwise(inputs: list[ir.Value], init: ir.Value, body, extra_maps=None) -> ir.Value:
    """A parallel linalg.generic over init's shape; body(*scalars) -> scalar."""
    rank = len(shape_of(init))
    maps = (extra_maps or identity_maps(rank, len(inputs))) + [ir.AffineMap.get_identity(rank)]

    @linalg.generic(inputs, [init], maps, [linalg.IteratorType.parallel] * rank)
    def result(*args):
        return body(*args[:-1])

    return result


# --- activations: scalar bodies -------------------------------------------------------

def relu(x):
    # nsz: relu(-0.0) may be -0.0, which lets x86 clamp with one vmaxps (NaN still
    # propagates); without it LLVM adds a NaN compare and blend to every vector.
    return arith.maximumf(x, f32_const(0.0), fastmath=ir.Attribute.parse("#arith.fastmath<nsz>"))


def relu6(x):
    return arith.minimumf(relu(x), f32_const(6.0))


def hard_swish(x):
    return arith.mulf(arith.mulf(x, relu6(arith.addf(x, f32_const(3.0)))), f32_const(1.0 / 6.0))


ELEMENTWISE_ACTIVATIONS = {"relu": relu, "relu6": relu6, "hard_swish": hard_swish,
                           "sigmoid": elementary.sigmoid, "tanh": elementary.tanh}


# --- the per-layer builder ----------------------------------------------------------------

@dataclass
class LayerBuilder:
    """Builds one layer's chain; `dest` is the output tensor to compute into, if any.

    A layer built as the first half of another layer's kernel (the depthwise conv of a
    fused separable kernel) tags its parts with `prefix` under that layer's name and marks
    no kernel of its own."""
    layer: str
    dest: ir.Value | None = None
    used_dest: bool = field(default=False)
    prefix: str = ""

    def tag(self, value, role: str, kernel: str | None = None) -> ir.Value:
        return tag(value, self.layer, self.prefix + role, None if self.prefix else kernel)

    def final_init(self, shape) -> ir.Value:
        """Where the chain's last op writes: the graph output if this layer is one."""
        if self.dest is not None and not self.used_dest:
            dest_shape = shape_of(self.dest)
            if dest_shape == list(shape):
                self.used_dest = True
                return self.dest
            if int(np.prod(dest_shape)) == int(np.prod(shape)) and len(shape) == 2:
                self.used_dest = True
                return collapse_to_2d(self.dest)
        return empty(shape)

    def bias_init(self, bias: ir.Value, shape, into: ir.Value | None = None) -> ir.Value:
        """The chain's first op: the bias (or zeros) broadcast into its final buffer (or
        into `into`), over the leading dims the bias lacks."""
        init = self.final_init(shape) if into is None else into
        if is_zero_constant(bias):
            return self.tag(linalg.fill(f32_const(0.0), outs=[init]), "init")
        dims = list(range(len(shape) - len(shape_of(bias))))
        return self.tag(linalg.broadcast(bias, outs=[init], dimensions=dims), "init")

    def activate(self, value: ir.Value, activation: str, kernel: str) -> ir.Value:
        """Apply the activation in place as the chain's epilogue; return the chain's end.

        In place (outs only, no ins) so that, when the schedule tiles the epilogue, the
        main op and its init are producers of the destination and fuse into the same
        tile, and the whole chain writes one buffer."""
        if activation == "linear":
            return value
        if activation == "softmax":
            return softmax(value, value, self.layer)
        rank = len(shape_of(value))
        body = ELEMENTWISE_ACTIVATIONS[activation]

        @linalg.generic([], [value], [ir.AffineMap.get_identity(rank)],
                        [linalg.IteratorType.parallel] * rank)
        def out(v):
            return body(v)

        return self.tag(out, "epilogue", kernel)

    def convolve(self, main: ir.Value, activation: str, kernel: str) -> ir.Value:
        """Tag `main` and finish the chain: the epilogue, or main itself, is the root."""
        if activation in ("linear", "softmax"):
            # Softmax is a chain of its own (reductions over the row), not an epilogue.
            self.tag(main, "main", kernel)
            return softmax(main, main, f"{self.layer}/softmax") if activation == "softmax" else main
        self.tag(main, "main")
        return self.activate(main, activation, kernel)


def collapse_to_2d(value: ir.Value) -> ir.Value:
    shape = shape_of(value)
    groups = [list(range(len(shape) - 1)), [len(shape) - 1]]
    rows = int(np.prod(shape[:-1]))
    return tensor.collapse_shape(ir.RankedTensorType.get([rows, shape[-1]], f32()), value, groups)


def expand_from_2d(value: ir.Value, shape) -> ir.Value:
    groups = [list(range(len(shape) - 1)), [len(shape) - 1]]
    return tensor.expand_shape(ir.RankedTensorType.get(list(shape), f32()), value, groups,
                               [], list(shape))


def pad(value: ir.Value, pairs, fill: float = 0.0) -> ir.Value:
    """tensor.pad of the spatial dims (between batch and channels); a no-op without padding."""
    if not any(b or a for b, a in pairs):
        return value
    shape = shape_of(value)
    low = [0] + [b for b, _ in pairs] + [0]
    high = [0] + [a for _, a in pairs] + [0]
    out_shape = [s + lo + hi for s, lo, hi in zip(shape, low, high)]
    result_type = ir.RankedTensorType.get(out_shape, f32())
    op = tensor.PadOp(result_type, value, [], [], low, high)
    block = op.region.blocks.append(*([ir.IndexType.get()] * len(shape)))
    with ir.InsertionPoint(block):
        tensor.YieldOp(f32_const(fill))
    return op.result


def padding_pairs(op) -> list[tuple[int, int]]:
    flat = int_array(op, "padding")
    return list(zip(flat[0::2], flat[1::2]))


def replicate_channels(x: ir.Value, multiplier: int, layer: str) -> ir.Value:
    """x[..., c] -> x'[..., c*M + m]: depthwise with multiplier M as plain depthwise on C*M."""
    shape = shape_of(x)
    rank = len(shape)
    wide = empty(shape + [multiplier])
    dims = [ir.AffineDimExpr.get(i) for i in range(rank + 1)]
    in_map = ir.AffineMap.get(rank + 1, 0, dims[:rank])
    out_map = ir.AffineMap.get_identity(rank + 1)

    @linalg.generic([x], [wide], [in_map, out_map], [linalg.IteratorType.parallel] * (rank + 1))
    def replicated(v, _o):
        return v

    tag(replicated, layer, "replicate")
    groups = [[i] for i in range(rank - 1)] + [[rank - 1, rank]]
    return tensor.collapse_shape(ir.RankedTensorType.get(shape[:-1] + [shape[-1] * multiplier], f32()),
                                 replicated, groups)


def softmax(x: ir.Value, init: ir.Value, layer: str) -> ir.Value:
    """Softmax over the last axis as reductions and elementwise generics."""
    shape = shape_of(x)
    rank = len(shape)
    dims = [ir.AffineDimExpr.get(i) for i in range(rank)]
    reduced_map = ir.AffineMap.get(rank, 0, dims[:-1])
    full = ir.AffineMap.get_identity(rank)
    iterators = [linalg.IteratorType.parallel] * (rank - 1) + [linalg.IteratorType.reduction]

    maximum = linalg.fill(f32_const(F32_LOWEST), outs=[empty(shape[:-1])])

    @linalg.generic([x], [maximum], [full, reduced_map], iterators)
    def row_max(v, acc):
        return arith.maximumf(v, acc)

    exps = elementwise([x, row_max], empty(shape), lambda v, mx: elementary.exp(arith.subf(v, mx)),
                       [full, reduced_map])
    zero = linalg.fill(f32_const(0.0), outs=[empty(shape[:-1])])

    @linalg.generic([exps], [zero], [full, reduced_map], iterators)
    def row_sum(v, acc):
        return arith.addf(v, acc)

    out = elementwise([exps, row_sum], init, lambda e, s: arith.divf(e, s), [full, reduced_map])
    return tag(out, layer, "epilogue", "softmax")


# --- per-op lowerings -------------------------------------------------------------------

def lower_depthwise(op, b: LayerBuilder) -> ir.Value:
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


def is_pointwise(op) -> bool:
    kernel_shape = shape_of(op.operands[1])
    return all(k == 1 for k in kernel_shape[:-2]) and not any(int_array(op, "padding"))


def lower_pointwise(op, b: LayerBuilder) -> ir.Value:
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
    weights = tensor_constant(kernel.reshape(kernel.shape[-2:]))
    return matmul_layer(collapse_to_2d(x), weights, bias, string_attr(op, "activation"),
                        out_shape, b)


def matmul_layer(rows: ir.Value, weights: ir.Value, bias: ir.Value, activation: str,
                 out_shape, b: LayerBuilder) -> ir.Value:
    flat_shape = [int(np.prod(out_shape[:-1])), out_shape[-1]]
    init = b.bias_init(bias, flat_shape)
    main = linalg.matmul(rows, weights, outs=[init])
    result = b.convolve(main, activation, "matmul")
    return result if len(out_shape) == 2 else expand_from_2d(result, out_shape)


def lower_separable(op, b: LayerBuilder) -> ir.Value:
    """A 1x1 conv and the depthwise conv feeding it, as one kernel: the schedule tiles the
    1x1 conv's output and computes the depthwise tile it reads inside the same tile.

    The 1x1 conv is a contraction over channels on an output blocked as (..., F/16, 16),
    with its weights packed at compile time as (F/16, C, 16): the panel of weights a
    register block reads over the whole reduction is one contiguous stretch of memory."""
    depthwise = defining_op(op.operands[0])
    mid = lower_depthwise(depthwise, LayerBuilder(b.layer, prefix="dw_"))
    depthwise.result.replace_all_uses_with(mid)
    depthwise.erase()
    _, kernel_value, bias = op.operands
    kernel = constant_array(kernel_value)
    channels, filters = kernel.shape[-2:]
    panels = filters // PANEL
    packed = tensor_constant(kernel.reshape(channels, panels, PANEL).transpose(1, 0, 2))
    out_shape = shape_of(op.result)
    rank = len(out_shape)
    blocked = ir.RankedTensorType.get(out_shape[:-1] + [panels, PANEL], f32())
    groups = [[d] for d in range(rank - 1)] + [[rank - 1, rank]]
    dest = tensor.expand_shape(blocked, b.final_init(out_shape), groups, [],
                               out_shape[:-1] + [panels, PANEL])
    if not is_zero_constant(bias):
        bias = tensor_constant(constant_array(bias).reshape(panels, PANEL))
    init = b.bias_init(bias, out_shape[:-1] + [panels, PANEL], into=dest)
    # Loop dims: the pixel dims (batch, spatial), panel, lane, then the channel reduction.
    pixel = list(range(rank - 1))
    panel, lane, channel = rank - 1, rank, rank + 1
    dims = rank + 2

    def affine(*positions):
        return ir.AffineMap.get(dims, 0, [ir.AffineDimExpr.get(p) for p in positions])

    maps = [affine(*pixel, channel), affine(panel, channel, lane), affine(*pixel, panel, lane)]
    iterators = [linalg.IteratorType.parallel] * (dims - 1) + [linalg.IteratorType.reduction]

    @linalg.generic([mid, packed], [init], maps, iterators)
    def main(x, w, acc):
        return arith.addf(acc, arith.mulf(x, w))

    spatial = rank - 2
    result = b.convolve(main, string_attr(op, "activation"), f"separable{spatial}d")
    return tensor.collapse_shape(op.result.type, result, groups)


def lower_conv(op, b: LayerBuilder) -> ir.Value:
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


def lower_dense(op, b: LayerBuilder) -> ir.Value:
    x, kernel, bias = op.operands
    rows = x if len(shape_of(x)) == 2 else collapse_to_2d(x)
    return matmul_layer(rows, kernel, bias, string_attr(op, "activation"), shape_of(op.result), b)


def lower_batch_norm(op, b: LayerBuilder) -> ir.Value:
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
        return tag(out, b.layer, "main", "elementwise")
    tag(out, b.layer, "main")
    return b.activate(out, activation, "elementwise")


def lower_activation(op, b: LayerBuilder) -> ir.Value:
    """A standalone activation (its input has other uses): out of place."""
    x = op.operands[0]
    activation = string_attr(op, "activation")
    if activation == "linear":
        return x
    if activation == "softmax":
        return softmax(x, b.final_init(shape_of(x)), b.layer)
    out = elementwise([x], b.final_init(shape_of(x)), ELEMENTWISE_ACTIVATIONS[activation])
    return tag(out, b.layer, "main", "elementwise")


def lower_add(op, b: LayerBuilder) -> ir.Value:
    inputs = list(op.operands)
    shape = shape_of(op.result)
    activation = string_attr(op, "activation")
    body = ELEMENTWISE_ACTIVATIONS.get(activation, lambda v: v)  # softmax: applied after

    def total(*values):
        acc = values[0]
        for v in values[1:]:
            acc = arith.addf(acc, v)
        return body(acc)

    out = elementwise(inputs, b.final_init(shape), total)
    if activation == "softmax":
        tag(out, b.layer, "main")
        return b.activate(out, activation, "elementwise")
    return tag(out, b.layer, "main", "elementwise")


def lower_zero_padding(op, b: LayerBuilder) -> ir.Value:
    return pad(op.operands[0], padding_pairs(op))


def window_attrs(op):
    return int_array(op, "pool_size"), int_array(op, "strides")


def lower_max_pool(op, b: LayerBuilder) -> ir.Value:
    pool, strides = window_attrs(op)
    x = pad(op.operands[0], padding_pairs(op), fill=F32_LOWEST)
    init = linalg.fill(f32_const(F32_LOWEST), outs=[b.final_init(shape_of(op.result))])
    tag(init, b.layer, "init")
    out = linalg.pooling_nhwc_max(x, empty(pool), outs=[init], strides=strides, dilations=[1, 1])
    return tag(out, b.layer, "main", "pool2d")


def real_element_counts(op) -> np.ndarray:
    """How many unpadded input elements each output window covers, per (oh, ow)."""
    (kh, kw), (sh, sw) = window_attrs(op)
    (top, _), (left, _) = padding_pairs(op)
    _, height, width, _ = shape_of(op.operands[0])
    _, out_h, out_w, _ = shape_of(op.result)

    def covered(size, out, k, stride, before):
        starts = np.arange(out) * stride - before
        return np.clip(starts + k, 0, size) - np.clip(starts, 0, size)

    return np.outer(covered(height, out_h, kh, sh, top), covered(width, out_w, kw, sw, left))


def lower_avg_pool(op, b: LayerBuilder) -> ir.Value:
    pool, strides = window_attrs(op)
    x = pad(op.operands[0], padding_pairs(op))
    shape = shape_of(op.result)
    init = tag(linalg.fill(f32_const(0.0), outs=[empty(shape)]), b.layer, "init")
    sums = tag(linalg.pooling_nhwc_sum(x, empty(pool), outs=[init], strides=strides,
                                       dilations=[1, 1]), b.layer, "main")
    reciprocal = tensor_constant(1.0 / real_element_counts(op))
    dims = [ir.AffineDimExpr.get(i) for i in range(4)]
    maps = [ir.AffineMap.get_identity(4), ir.AffineMap.get(4, 0, dims[1:3])]
    out = elementwise([sums, reciprocal], b.final_init(shape), arith.mulf, maps)
    return tag(out, b.layer, "epilogue", "pool2d")


def lower_global_avg_pool(op, b: LayerBuilder) -> ir.Value:
    x = op.operands[0]
    shape = shape_of(x)
    rank = len(shape)
    batch, channels = shape[0], shape[-1]
    dims = [ir.AffineDimExpr.get(i) for i in range(rank)]
    out_map = ir.AffineMap.get(rank, 0, [dims[0], dims[-1]])
    iterators = ([linalg.IteratorType.parallel] + [linalg.IteratorType.reduction] * (rank - 2)
                 + [linalg.IteratorType.parallel])
    # The reduction stays outside the schedule's chain ("reduce", not "main"): its
    # iteration space is not the epilogue's, so it cannot share the epilogue's tiles.
    init = tag(linalg.fill(f32_const(0.0), outs=[empty([batch, channels])]), b.layer, "reduce_init")

    @linalg.generic([x], [init], [ir.AffineMap.get_identity(rank), out_map], iterators)
    def sums(v, acc):
        return arith.addf(v, acc)

    tag(sums, b.layer, "reduce")
    scale = 1.0 / pymath.prod(shape[1:-1])
    result_shape = shape_of(op.result)
    keepdims = len(result_shape) != 2
    out = elementwise([sums], b.final_init([batch, channels]) if not keepdims else empty([batch, channels]),
                      lambda v: arith.mulf(v, f32_const(scale)))
    tag(out, b.layer, "epilogue", "elementwise")
    if not keepdims:
        return out
    groups = [list(range(rank - 1)), [rank - 1]]
    return tensor.expand_shape(op.result.type, out, groups, [], result_shape)


def lower_reshape(op, b: LayerBuilder) -> ir.Value:
    x = op.operands[0]
    in_shape, out_shape = shape_of(x), shape_of(op.result)
    flat = tensor.collapse_shape(ir.RankedTensorType.get([in_shape[0], int(np.prod(in_shape[1:]))], f32()),
                                 x, [[0], list(range(1, len(in_shape)))])
    if len(out_shape) == 2:
        return flat
    return tensor.expand_shape(op.result.type, flat, [[0], list(range(1, len(out_shape)))],
                               [], out_shape)


LOWERINGS = {
    "sep.depthwise_conv2d": lower_depthwise,
    "sep.depthwise_conv1d": lower_depthwise,
    "sep.conv2d": lower_conv,
    "sep.conv1d": lower_conv,
    "sep.dense": lower_dense,
    "sep.batch_norm": lower_batch_norm,
    "sep.activation": lower_activation,
    "sep.add": lower_add,
    "sep.zero_padding2d": lower_zero_padding,
    "sep.max_pool2d": lower_max_pool,
    "sep.avg_pool2d": lower_avg_pool,
    "sep.global_avg_pool": lower_global_avg_pool,
    "sep.reshape": lower_reshape,
}


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


@sep_pass("lower-to-linalg")
def lower_to_linalg(module: ir.Operation) -> None:
    """Lower every sep op to Linalg on tensors, writing graph outputs in place."""
    for fn in walk_ops(module, ("func.func",)):
        outs = add_output_arguments(fn)
        ret = fn.entry_block.operations[len(fn.entry_block.operations) - 1]
        first_output_of = {}          # a returned value -> the first output slot it fills
        for index, value in enumerate(ret.operands):
            first_output_of.setdefault(value, index)
        in_place = set()               # output slots whose layer computed into them
        for position, op in enumerate(walk_ops(fn.operation, tuple(LOWERINGS))):
            if FUSED_PRODUCER in op.attributes:
                continue              # lowered with its consumer, by lower_separable
            index = first_output_of.get(op.result)
            builder = LayerBuilder(layer_name(op, position), None if index is None else outs[index])
            with ir.InsertionPoint(op), op.location:
                result = LOWERINGS[op.name](op, builder)
            if builder.used_dest:
                in_place.add(index)
            op.result.replace_all_uses_with(result)
            op.erase()
        # An output computed in its own buffer is returned as is (bufferization then drops
        # the result); any other (an input passed through, a value listed twice) is copied.
        with ir.InsertionPoint(ret), ir.Location.unknown():
            results = [value if index in in_place
                       else bufferization.materialize_in_destination(value.type, value, out)
                       for index, (value, out) in enumerate(zip(ret.operands, outs))]
            func.ReturnOp(results)
        ret.erase()
