"""ONNX (.onnx files, NCHW) -> model.json: Conv (grouped per channel = depthwise, 1x1; pads
or auto_pad), BatchNormalization, Relu, Clip(0, 6), HardSwish, HardSigmoid(1/6, 0.5),
Sigmoid, Tanh, Mul (Mul(x, Sigmoid(x)) is swish; (N, C, 1, 1) factors broadcast), Softmax,
Add, Add/Sub/Mul/Div by a number or per-channel constant (rescaling), Concat (channels),
GlobalAveragePool, ReduceMean over the spatial axes, Squeeze/Unsqueeze of them, Gemm,
MatMul, Flatten, Reshape (to (N, -1)), Pad, MaxPool, AveragePool, Dropout and Identity.
(What torch's TorchScript and dynamo exporters write for the models of the tests.)

CONVERTERS maps an op type to the function that adds the node to the model; an op type
without a row is reported as not supported."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import numpy as np

from ..errors import UserError
from .builder import ModelBuilder, c_identifier, given_input_shapes
from .nchw import ChannelsFirst, channel_constant, nhwc

# Operators that are one activation whatever their attributes (Clip and Softmax are one only
# for some, and have converters of their own).
ACTIVATIONS = {"Relu": "relu", "HardSwish": "hard_swish", "Sigmoid": "sigmoid", "Tanh": "tanh"}

UNSUPPORTED = "this operator is not supported"


def load(path: str) -> Any:
    try:
        import onnx
    except ImportError:
        raise UserError(f"{path}: importing ONNX models needs onnx: "
                        "pip install -e '.[onnx]'") from None
    if not os.path.exists(path):
        raise UserError(f"{path}: file does not exist, expected an .onnx file")
    try:
        return onnx.load(path)
    except Exception as e:
        raise UserError(f"{path}: not a readable ONNX model: {str(e).splitlines()[0]}") from None


def dims(value: Any) -> list[int]:
    return [d.dim_value if d.HasField("dim_value") else 1 for d in value.type.tensor_type.shape.dim]


def initializers(graph: Any) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper
    return {t.name: numpy_helper.to_array(t).astype(np.float32, copy=False)
            if t.data_type == onnx.TensorProto.FLOAT else numpy_helper.to_array(t)
            for t in graph.initializer}


def set_input_shapes(path: str, graph: Any, given: dict[str, list[int]]) -> None:
    """Each graph input's shape as --input-shape gives it (the model's own NCHW order)."""
    constants = {t.name for t in graph.initializer}
    inputs = {v.name: v for v in graph.input if v.name not in constants}
    shapes = {name: [d.dim_value if d.HasField("dim_value") else None
                     for d in value.type.tensor_type.shape.dim]
              for name, value in inputs.items()}
    for name, wanted in given_input_shapes(path, shapes, given).items():
        for dim, size in zip(inputs[name].type.tensor_type.shape.dim, wanted, strict=True):
            dim.dim_value = size


def import_onnx(path: str, input_shapes: dict[str, list[int]] | None = None) -> ModelBuilder:
    import onnx
    from onnx import helper, numpy_helper

    model = load(path)
    set_input_shapes(path, model.graph, input_shapes or {})
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:
        pass                  # shapes only help to report every problem at once
    graph = model.graph
    known_shapes = {v.name: dims(v) for v in list(graph.value_info) + list(graph.output)}
    # Exporters name graphs generically ("main_graph", "torch_jit"): the file names the model.
    b = ModelBuilder(c_identifier(os.path.splitext(os.path.basename(path))[0]), path)
    cf = ChannelsFirst(b)
    constants = initializers(graph)
    for value in graph.input:
        if value.name not in constants:
            b.add_input(value.name, nhwc(dims(value)))

    for index, node in enumerate(graph.node):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        n = Node(cf, node, index, attrs, constants)
        if n.op == "Constant":     # a value for the nodes after it, not a layer
            constants[n.out] = numpy_helper.to_array(attrs["value"])
            continue
        convert(n)
        # Every node's outputs stand in for it, rejected or not: the nodes after it are checked.
        for produced in node.output:
            if produced in known_shapes:
                b.stand_in(produced, nhwc(known_shapes[produced]))
    b.outputs = [o.name for o in graph.output]
    return b


class Node:
    """An ONNX node, as its converter sees it: `data` are its inputs computed by the graph,
    `const` every input's constant value (None where it is computed)."""

    def __init__(self, cf: ChannelsFirst, node: Any, index: int, attrs: dict[str, Any],
                 constants: dict[str, np.ndarray]):
        self.cf = cf
        self.b = cf.b
        self.op: str = node.op_type
        self.name: str = node.name or f"{node.op_type}_{index}"
        self.out: str = node.output[0] if node.output else self.name
        self.attrs = attrs
        self.data: list[str] = [i for i in node.input if i and i not in constants]
        self.const: list[Any] = [constants.get(i) for i in node.input]

    @property
    def x(self) -> Any:
        return self.data[0] if self.data else None

    @property
    def spatial(self) -> int:
        return len(self.b.shape(self.x)) - 2 if self.x else 0

    def optional(self, i: int) -> Any:
        """Input i's constant value; None if it is left out."""
        return self.const[i] if len(self.const) > i else None

    def problem(self, reason: str) -> None:
        self.b.problem(self.name, self.op, reason)


Converter = Callable[[Node], None]


def convert(n: Node) -> None:
    if not all(n.b.known(d) for d in n.data):
        if not n.b.problems:   # a missing input is a consequence of an earlier problem
            n.problem("its input could not be imported")
    elif n.op not in CONVERTERS:
        n.problem(UNSUPPORTED)
    else:
        n.cf.label = n.name
        CONVERTERS[n.op](n)
        n.cf.label = None


def pad_pairs(pads: Sequence[int], axes: Iterable[int], rank: int) -> list[list[int]]:
    """ONNX pads (all begins, then all ends, over `rank` axes) -> [begin, end] per axis."""
    return [[pads[a], pads[a + rank]] for a in axes]


def auto_pads(mode: str, sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
              dilations: Sequence[int]) -> list[list[int]] | None:
    """[[before, after]] per spatial dim of auto_pad: SAME_UPPER (the odd pad after, as
    Keras's "same"), SAME_LOWER (before), VALID; None for another mode."""
    if mode == "VALID":
        return [[0, 0] for _ in sizes]
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        return None
    pairs = []
    for size, k, stride, dilation in zip(sizes, kernel, strides, dilations, strict=True):
        total = max((-(-size // stride) - 1) * stride + (k - 1) * dilation + 1 - size, 0)
        small, large = total // 2, total - total // 2
        pairs.append([small, large] if mode == "SAME_UPPER" else [large, small])
    return pairs


def conv(n: Node) -> None:
    spatial = n.spatial
    strides = n.attrs.get("strides", [1] * spatial)
    dilations = n.attrs.get("dilations", [1] * spatial)
    pairs = pad_pairs(n.attrs.get("pads", [0] * 2 * spatial), range(spatial), spatial)
    mode = n.attrs.get("auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "NOTSET":
        found = auto_pads(mode, n.b.shape(n.x)[1:-1], n.const[1].shape[2:], strides, dilations)
        if found is None:
            n.problem(f"auto_pad {mode!r} (only NOTSET, SAME_UPPER, SAME_LOWER, VALID)")
            return
        pairs = found
    n.cf.conv(n.out, n.x, n.const[1], n.optional(2), strides, pairs, dilations,
              n.attrs.get("group", 1), n.op)


def batch_normalization(n: Node) -> None:
    scale, offset, mean, variance = n.const[1:5]
    n.cf.batch_norm(n.out, n.x, scale, offset, mean, variance, n.attrs.get("epsilon", 1e-5))


def activation(n: Node) -> None:
    n.cf.activation(n.out, n.x, ACTIVATIONS[n.op])


def scalar(value: Any) -> float | None:
    return None if value is None else float(np.asarray(value))


def clip(n: Node) -> None:
    # Opset 11 moved min and max from attributes to inputs.
    low = scalar(n.attrs.get("min", n.optional(1)))
    high = scalar(n.attrs.get("max", n.optional(2)))
    if low == 0.0 and high == 6.0:
        n.cf.activation(n.out, n.x, "relu6")
    elif low == 0.0 and high is None:
        n.cf.activation(n.out, n.x, "relu")
    else:
        n.problem(f"Clip({low}, {high}) (only (0, 6) and (0, none))")


def hard_sigmoid(n: Node) -> None:
    alpha, beta = n.attrs.get("alpha", 0.2), n.attrs.get("beta", 0.5)
    if not (np.isclose(alpha, 1 / 6) and np.isclose(beta, 0.5)):
        n.problem(f"HardSigmoid(alpha={alpha:g}, beta={beta:g}) (only alpha 1/6, beta 0.5: "
                  "relu6(x + 3) / 6)")
        return
    n.cf.activation(n.out, n.x, "hard_sigmoid")


def constant_operand(n: Node) -> Any:
    """The constant input of a binary node with one computed input (None if it has none)."""
    return next((c for c in n.const if c is not None), None) if len(n.data) == 1 else None


def per_channel(n: Node) -> float | list[float] | None:
    """The node's constant as a rescaling value (a number or one per channel), or None and
    a problem."""
    constant = constant_operand(n)
    shape = n.b.shape(n.x)
    value = None if constant is None else channel_constant(constant, len(shape), shape[-1])
    if value is None:
        n.problem("only tensors, or a tensor and a number or per-channel constant")
    return value


def mul(n: Node) -> None:
    """x * y (x * Sigmoid(x) stays swish, the Sigmoid it leaves unread is not written; a
    (N, C, 1, 1) factor broadcasts over H and W), or x times a constant (rescaling)."""
    if len(n.data) == 2:
        n.cf.multiply(n.out, n.data, n.op)
    elif (value := per_channel(n)) is not None:
        n.cf.rescale(n.out, n.x, value, 0.0)


def sub(n: Node) -> None:
    """x - c or c - x, c a number or per-channel constant."""
    value = per_channel(n)
    if value is None:
        return
    negated = [-v for v in value] if isinstance(value, list) else -value
    if n.const[0] is None:      # x - c
        n.cf.rescale(n.out, n.x, 1.0, negated)
    else:
        n.cf.rescale(n.out, n.x, -1.0, value)


def div(n: Node) -> None:
    """x / c, c a nonzero number or per-channel constant."""
    value = per_channel(n)
    if value is None:
        return
    values = value if isinstance(value, list) else [value]
    if n.const[1] is None or 0.0 in values:
        n.problem("divides by a tensor or zero (only by a nonzero constant)")
        return
    n.cf.rescale(n.out, n.x, [1.0 / v for v in values] if isinstance(value, list)
                 else 1.0 / value, 0.0)


def axes_of(n: Node) -> list[int] | None:
    """A reduction's or squeeze's axes: the attribute (older opsets) or input 1, made
    non-negative against the input's rank."""
    axes = n.attrs.get("axes", n.optional(1))
    if axes is None:
        return None
    rank = len(n.b.shape(n.x))
    return sorted(int(a) % rank for a in np.asarray(axes).ravel())


def reduce_mean(n: Node) -> None:
    """Over exactly the spatial axes: global average pooling (keepdims as it says)."""
    rank = len(n.b.shape(n.x))
    if axes_of(n) != list(range(2, rank)) or rank < 3:
        n.problem(f"axes {axes_of(n)} of a rank-{rank} tensor (only the spatial axes)")
        return
    n.cf.global_average_pool(n.out, n.x, keepdims=bool(n.attrs.get("keepdims", 1)))


def squeeze(n: Node) -> None:
    """Of the spatial axes of a (N, C, 1..) tensor: (N, C)."""
    shape = n.b.shape(n.x)
    if axes_of(n) != list(range(2, len(shape))) or len(shape) < 3:
        n.problem(f"axes {axes_of(n)} (only the spatial axes of (N, C, 1, ...))")
        return
    n.cf.flatten(n.out, n.x, n.op)


def unsqueeze(n: Node) -> None:
    """(N, C) -> (N, C, 1..): axes 2.. (or negative) of the result."""
    shape = n.b.shape(n.x)
    axes = n.attrs.get("axes", n.optional(1))
    count = 0 if axes is None else np.asarray(axes).size
    out_rank = len(shape) + count
    if (len(shape) != 2 or count not in (1, 2) or sorted(
            int(a) % out_rank for a in np.asarray(axes).ravel()) != list(range(2, out_rank))):
        n.problem(f"axes {axes} of a rank-{len(shape)} tensor (only (N, C) to (N, C, 1, ...))")
        return
    target = [1] * count + [shape[-1]]
    n.b.add(n.out, "reshape", n.x, [shape[0], *target], target_shape=target)


def concat(n: Node) -> None:
    if len(n.data) != len(n.const) or len(n.data) < 2:
        n.problem("concatenates a constant (only computed tensors)")
        return
    n.cf.concatenate(n.out, n.data, int(n.attrs["axis"]), n.op)


def softmax(n: Node) -> None:
    axis = n.attrs.get("axis", -1)
    rank = len(n.b.shape(n.x))
    if axis not in (-1, rank - 1) or rank != 2:
        n.problem(f"axis {axis} of a rank-{rank} tensor (only the last axis of (N, C))")
        return
    n.cf.activation(n.out, n.x, "softmax")


def add(n: Node) -> None:
    """x + y, or x plus a number or per-channel constant (rescaling)."""
    if len(n.data) == 2:
        n.cf.add(n.out, n.data, n.op)
    elif (value := per_channel(n)) is not None:
        n.cf.rescale(n.out, n.x, 1.0, value)


def global_average_pool(n: Node) -> None:
    n.cf.global_average_pool(n.out, n.x, keepdims=True)


def flatten(n: Node) -> None:
    if n.attrs.get("axis", 1) != 1:
        n.problem(f"axis {n.attrs['axis']} (only 1)")
        return
    n.cf.flatten(n.out, n.x, n.op)


def reshape(n: Node) -> None:
    target = [int(v) for v in np.asarray(n.const[1]).ravel()]
    if len(target) != 2 or target[1] not in (-1, n.b.shape(n.x)[-1]):
        n.problem(f"to {target} (only to (N, -1))")
        return
    n.cf.flatten(n.out, n.x, n.op)


def gemm(n: Node) -> None:
    weight, attrs = n.const[1], n.attrs
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        n.problem("transA, alpha and beta must be 0, 1 and 1")
        return
    n.cf.dense(n.out, n.x, weight.T if attrs.get("transB", 0) else weight, n.optional(2))


def matmul(n: Node) -> None:
    if n.const[1] is None:     # a product of two computed tensors is no dense layer
        n.problem(UNSUPPORTED)
        return
    n.cf.dense(n.out, n.x, n.const[1], None)


def pad(n: Node) -> None:
    # Opset 11 moved pads from an attribute to an input.
    pads = [int(p) for p in np.asarray(n.attrs.get("pads", n.optional(1))).ravel()]
    mode = n.attrs.get("mode", b"constant")
    value = n.optional(2)
    rank = len(pads) // 2
    nonzero = value is not None and float(np.asarray(value)) != 0.0
    if mode not in (b"constant", "constant") or nonzero or rank != 4 \
            or pads[0] or pads[1] or pads[rank] or pads[rank + 1]:
        n.problem("only zero padding of H and W")
        return
    n.cf.zero_pad(n.out, n.x, pad_pairs(pads, (2, 3), rank), n.op)


def pool(op: str, n: Node) -> None:
    pads = n.attrs.get("pads", [0] * 4)
    n.cf.pool(n.out, n.x, op, n.attrs["kernel_shape"], n.attrs.get("strides", [1, 1]),
              pad_pairs(pads, (0, 1), 2), n.op)


def identity(n: Node) -> None:
    n.b.alias(n.out, n.x)


CONVERTERS: dict[str, Converter] = {
    **dict.fromkeys(ACTIVATIONS, activation),
    "Conv": conv,
    "BatchNormalization": batch_normalization,
    "Clip": clip,
    "HardSigmoid": hard_sigmoid,
    "Mul": mul,
    "Sub": sub,
    "Div": div,
    "ReduceMean": reduce_mean,
    "Squeeze": squeeze,
    "Unsqueeze": unsqueeze,
    "Concat": concat,
    "Softmax": softmax,
    "Add": add,
    "GlobalAveragePool": global_average_pool,
    "Flatten": flatten,
    "Reshape": reshape,
    "Gemm": gemm,
    "MatMul": matmul,
    "Pad": pad,
    "MaxPool": partial(pool, "max_pooling2d"),
    "AveragePool": partial(pool, "average_pooling2d"),
    "Dropout": identity,
    "Identity": identity,
}
