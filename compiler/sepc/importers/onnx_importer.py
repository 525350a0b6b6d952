"""ONNX (.onnx files, NCHW) -> model.json: Conv (grouped per channel = depthwise, 1x1),
BatchNormalization, Relu, Clip(0, 6), HardSwish, HardSigmoid(1/6, 0.5), Sigmoid, Tanh,
Mul(x, Sigmoid(x)) (swish), Softmax, Add,
GlobalAveragePool, Gemm, MatMul, Flatten, Reshape (to (N, -1)), Pad, MaxPool, AveragePool,
Dropout and Identity.

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
from .nchw import ChannelsFirst, nhwc

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
        CONVERTERS[n.op](n)


def pad_pairs(pads: Sequence[int], axes: Iterable[int], rank: int) -> list[list[int]]:
    """ONNX pads (all begins, then all ends, over `rank` axes) -> [begin, end] per axis."""
    return [[pads[a], pads[a + rank]] for a in axes]


def conv(n: Node) -> None:
    spatial = n.spatial
    pads = n.attrs.get("pads", [0] * 2 * spatial)
    if n.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        n.problem(f"auto_pad {n.attrs['auto_pad']!r} (only explicit pads)")
        return
    n.cf.conv(n.out, n.x, n.const[1], n.optional(2), n.attrs.get("strides", [1] * spatial),
              pad_pairs(pads, range(spatial), spatial), n.attrs.get("dilations", [1] * spatial),
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


def mul(n: Node) -> None:
    """x * Sigmoid(x), as exporters write swish/SiLU (the Sigmoid layer it leaves unread is
    not written)."""
    if len(n.data) == 2:
        for x, gate in (n.data, n.data[::-1]):
            layer = n.b.layer_of(gate)
            if layer is not None and layer.get("activation") == "sigmoid" \
                    and layer["op"] == "activation" and layer["input"] == n.b.value(x):
                n.cf.activation(n.out, x, "swish")
                return
    n.problem("only x * Sigmoid(x) (swish) is supported")


def softmax(n: Node) -> None:
    axis = n.attrs.get("axis", -1)
    rank = len(n.b.shape(n.x))
    if axis not in (-1, rank - 1) or rank != 2:
        n.problem(f"axis {axis} of a rank-{rank} tensor (only the last axis of (N, C))")
        return
    n.cf.activation(n.out, n.x, "softmax")


def add(n: Node) -> None:
    if len(n.data) != 2:
        n.problem("adds a constant (only tensor + tensor)")
        return
    n.cf.add(n.out, n.data, n.op)


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
