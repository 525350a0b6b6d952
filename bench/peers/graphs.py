"""Any model.json with its weights as the peers' own models, so that every system computes
the very same function: a Keras model (for a .tflite file, LiteRT/XNNPACK) and an ONNX
graph (ONNX Runtime). Neither needs sepc; the Keras side runs in a TensorFlow virtualenv
(make_tflite.py), the ONNX side needs only `onnx`.

Keras is channels-last like model.json, so layers map one to one (explicit padding becomes
a ZeroPadding layer before a 'valid' conv). The ONNX graph is NCHW inside, with one
Transpose after each input and before each output, the layout ONNX Runtime's kernels want.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# model.json activation -> Keras activation name
KERAS_ACTIVATIONS = {"linear": "linear", "relu": "relu", "relu6": "relu6",
                     "hard_swish": "hard_swish", "sigmoid": "sigmoid", "tanh": "tanh",
                     "softmax": "softmax", "hard_sigmoid": "hard_sigmoid", "swish": "silu",
                     "silu": "silu"}


def per_dim(value: Any, rank: int) -> list[int]:
    return [value] * rank if isinstance(value, int) else list(value)


# ------------------------------------------------------------------------------- Keras

def keras_model(model: dict, weights: dict, keras: Any) -> Any:
    """The model.json as a Keras functional model carrying `weights`."""
    layers = keras.layers
    values = {name: keras.Input(shape=spec["shape"][1:], batch_size=spec["shape"][0], name=name)
              for name, spec in model["inputs"].items()}
    for layer in model["layers"]:
        values[layer["name"]] = _keras_layer(layer, values, weights, layers)
    return keras.Model([values[n] for n in model["inputs"]], [values[o] for o in model["outputs"]])


def _activation(layer: dict, layers: Any, y: Any) -> Any:
    name = layer.get("activation", "linear")
    if name == "linear":
        return y
    if name == "relu6":      # XNNPACK's clamp, where an Activation layer may become a Relu6 op
        return layers.ReLU(max_value=6.0)(y)
    return layers.Activation(KERAS_ACTIVATIONS[name])(y)


def _window(layer: dict, layers: Any, x: Any, rank: int) -> tuple[Any, str]:
    """Keras takes 'valid'/'same' only: explicit pairs become a ZeroPadding layer."""
    padding = layer.get("padding", "valid")
    if isinstance(padding, str):
        return x, padding
    pad = layers.ZeroPadding2D(padding) if rank == 2 else layers.ZeroPadding1D(padding[0])
    return pad(x), "valid"


def _conv(layer: dict, x: Any, weights: dict, layers: Any, rank: int, kind: str) -> Any:
    name, bias = layer["name"], layer.get("use_bias", True)
    x, padding = _window(layer, layers, x, rank)
    common = dict(kernel_size=per_dim(layer["kernel_size"], rank),
                  strides=per_dim(layer.get("strides", 1), rank),
                  dilation_rate=per_dim(layer.get("dilation_rate", 1), rank),
                  padding=padding, use_bias=bias, name=name)
    suffix = "2D" if rank == 2 else "1D"
    params = {"conv": ["kernel"], "depthwise": ["depthwise_kernel"],
              "separable": ["depthwise_kernel", "pointwise_kernel"]}[kind]
    if kind == "conv":
        keras_layer = getattr(layers, "Conv" + suffix)(layer["filters"], **common)
    elif kind == "depthwise":
        keras_layer = getattr(layers, "DepthwiseConv" + suffix)(
            depth_multiplier=layer.get("depth_multiplier", 1), **common)
    else:
        keras_layer = getattr(layers, "SeparableConv" + suffix)(
            layer["filters"], depth_multiplier=layer.get("depth_multiplier", 1), **common)
    y = keras_layer(x)
    keras_layer.set_weights([weights[f"{name}/{p}"] for p in params]
                            + ([weights[f"{name}/bias"]] if bias else []))
    return y


# model.json ops of several inputs -> Keras merge layer (Multiply broadcasts (1, 1, C))
KERAS_MERGES = {"add": "Add", "multiply": "Multiply", "concatenate": "Concatenate"}


def _keras_layer(layer: dict, values: dict, weights: dict, layers: Any) -> Any:
    op, name = layer["op"], layer["name"]
    if op in KERAS_MERGES:
        merge = getattr(layers, KERAS_MERGES[op])
        return _activation(layer, layers, merge(name=name)([values[i] for i in layer["inputs"]]))
    x = values[layer["input"]]
    for prefix, kind in (("separable_conv", "separable"), ("depthwise_conv", "depthwise"),
                         ("conv", "conv")):
        if op.startswith(prefix):
            return _activation(layer, layers, _conv(layer, x, weights, layers, int(op[-2]), kind))
    if op == "batch_norm":
        bn = layers.BatchNormalization(epsilon=layer.get("epsilon", 0.001), name=name)
        y = bn(x)
        bn.set_weights([weights[f"{name}/{p}"] for p in ("gamma", "beta", "moving_mean",
                                                            "moving_variance")])
        return _activation(layer, layers, y)
    if op == "activation":
        return _activation(layer, layers, x)
    if op == "dense":
        dense = layers.Dense(layer["units"], use_bias=layer.get("use_bias", True), name=name)
        y = dense(x)
        dense.set_weights([weights[f"{name}/kernel"]]
                          + ([weights[f"{name}/bias"]] if layer.get("use_bias", True) else []))
        return _activation(layer, layers, y)
    if op == "zero_padding2d":
        return layers.ZeroPadding2D(layer["padding"], name=name)(x)
    if op in ("max_pooling2d", "average_pooling2d"):
        pool = layers.MaxPooling2D if op.startswith("max") else layers.AveragePooling2D
        x, padding = _window(layer, layers, x, 2)
        return pool(layer["pool_size"], strides=layer.get("strides"), padding=padding, name=name)(x)
    if op.startswith("global_average_pooling"):
        pool = layers.GlobalAveragePooling2D if op.endswith("2d") else layers.GlobalAveragePooling1D
        return pool(keepdims=layer.get("keepdims", False), name=name)(x)
    if op == "reshape":
        return layers.Reshape(layer["target_shape"], name=name)(x)
    if op == "rescaling":
        rescale = layers.Rescaling(np.asarray(layer["scale"], np.float32),
                                   np.asarray(layer.get("offset", 0.0), np.float32), name=name)
        return _activation(layer, layers, rescale(x))
    if op == "cropping2d":
        return layers.Cropping2D(layer["cropping"], name=name)(x)
    raise ValueError(f"keras_model: op {op} not covered")


# -------------------------------------------------------------------------------- ONNX

class OnnxGraph:
    """Builds the NCHW graph node by node; `shapes` are model.json's channels-last shapes."""

    def __init__(self, helper: Any, numpy_helper: Any):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self.count = 0

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}__{self.count}"

    def constant(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        output = output or self.fresh(op)
        self.nodes.append(self.helper.make_node(op, inputs, [output], **attrs))
        return output


ONNX_ELEMENTWISE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh",
                    "hard_swish": "HardSwish"}


def _onnx_activation(g: OnnxGraph, x: str, name: str, rank: int) -> str:
    if name == "linear":
        return x
    if name in ONNX_ELEMENTWISE:
        return g.node(ONNX_ELEMENTWISE[name], [x])
    if name == "relu6":
        return g.node("Clip", [x, g.constant("lo", np.array(0.0, np.float32)),
                               g.constant("hi", np.array(6.0, np.float32))])
    if name == "hard_sigmoid":
        return g.node("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    if name in ("swish", "silu"):
        return g.node("Mul", [x, g.node("Sigmoid", [x])])
    if name == "softmax":
        return g.node("Softmax", [x], axis=1 if rank > 2 else -1)
    raise ValueError(f"onnx_model: activation {name} not covered")


def _onnx_conv(g: OnnxGraph, layer: dict, x: str, in_shape: list[int], weights: dict) -> str:
    op, name = layer["op"], layer["name"]
    rank = int(op[-2])
    kernel = per_dim(layer["kernel_size"], rank)
    strides = per_dim(layer.get("strides", 1), rank)
    dilations = per_dim(layer.get("dilation_rate", 1), rank)
    pads = _onnx_pads(layer, in_shape[1:-1], kernel, strides, dilations)
    spatial_first = tuple(range(rank))
    channels = in_shape[-1]
    bias = layer.get("use_bias", True)

    def conv(inp: str, w: np.ndarray, b: np.ndarray | None, group: int, conv_pads: list[int],
             k: list[int], s: list[int], d: list[int]) -> str:
        inputs = [inp, g.constant(name + "_w", w.astype(np.float32))]
        if b is not None:
            inputs.append(g.constant(name + "_b", b.astype(np.float32)))
        return g.node("Conv", inputs, kernel_shape=k, strides=s, dilations=d, pads=conv_pads,
                      group=group)

    if op.startswith("conv"):
        w = weights[f"{name}/kernel"].transpose(rank + 1, rank, *spatial_first)
        y = conv(x, w, weights.get(f"{name}/bias") if bias else None, 1, pads, kernel, strides,
                 dilations)
        return _onnx_activation(g, y, layer.get("activation", "linear"), rank + 2)
    multiplier = layer.get("depth_multiplier", 1)
    dw = weights[f"{name}/depthwise_kernel"]                     # (K.., C, M)
    dw = dw.reshape(*dw.shape[:rank], channels * multiplier).transpose(rank, *spatial_first)
    dw = dw[:, None]                                             # (C*M, 1, K..)
    if op.startswith("depthwise"):
        y = conv(x, dw, weights.get(f"{name}/bias") if bias else None, channels, pads, kernel,
                 strides, dilations)
        return _onnx_activation(g, y, layer.get("activation", "linear"), rank + 2)
    mid = conv(x, dw, None, channels, pads, kernel, strides, dilations)
    pw = weights[f"{name}/pointwise_kernel"]                     # (1.., C*M, F)
    pw = pw.reshape(pw.shape[-2], pw.shape[-1]).T.reshape(pw.shape[-1], pw.shape[-2], *[1] * rank)
    y = conv(mid, pw, weights.get(f"{name}/bias") if bias else None, 1, [0] * 2 * rank,
             [1] * rank, [1] * rank, [1] * rank)
    return _onnx_activation(g, y, layer.get("activation", "linear"), rank + 2)


def _onnx_pads(layer: dict, sizes: list[int], kernel: list[int], strides: list[int],
               dilations: list[int]) -> list[int]:
    """ONNX pads (begins, then ends) for model.json's padding (Keras 'same' included)."""
    padding = layer.get("padding", "valid")
    if padding == "valid":
        pairs = [(0, 0)] * len(sizes)
    elif padding == "same":
        pairs = []
        for size, k, s, d in zip(sizes, kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pairs.append((total // 2, total - total // 2))
    else:
        pairs = [tuple(p) for p in padding]
    return [b for b, _ in pairs] + [a for _, a in pairs]


def _onnx_layer(g: OnnxGraph, layer: dict, values: dict, shapes: dict, weights: dict) -> str:
    op, name = layer["op"], layer["name"]
    if op in ("add", "multiply"):
        total = values[layer["inputs"][0]]
        for other in layer["inputs"][1:]:      # NCHW: an (N, C, 1, 1) scale broadcasts
            total = g.node("Add" if op == "add" else "Mul", [total, values[other]])
        return _onnx_activation(g, total, layer.get("activation", "linear"),
                                len(shapes[layer["name"]]))
    if op == "concatenate":
        return g.node("Concat", [values[i] for i in layer["inputs"]], axis=1)
    x, in_shape = values[layer["input"]], shapes[layer["input"]]
    if "conv" in op:
        return _onnx_conv(g, layer, x, in_shape, weights)
    if op == "batch_norm":
        params = [g.constant(name + "_" + p, weights[f"{name}/{p}"])
                  for p in ("gamma", "beta", "moving_mean", "moving_variance")]
        y = g.node("BatchNormalization", [x, *params], epsilon=layer.get("epsilon", 0.001))
        return _onnx_activation(g, y, layer.get("activation", "linear"), len(in_shape))
    if op == "activation":
        return _onnx_activation(g, x, layer["activation"], len(in_shape))
    if op == "dense" and len(in_shape) == 2:
        inputs = [x, g.constant(name + "_w", weights[f"{name}/kernel"].T)]
        if layer.get("use_bias", True):
            inputs.append(g.constant(name + "_b", weights[f"{name}/bias"]))
        y = g.node("Gemm", inputs, transB=1)
        return _onnx_activation(g, y, layer.get("activation", "linear"), 2)
    if op in ("max_pooling2d", "average_pooling2d"):
        pool = per_dim(layer["pool_size"], 2)
        strides = per_dim(layer.get("strides", layer["pool_size"]), 2)
        pads = _onnx_pads(layer, in_shape[1:-1], pool, strides, [1, 1])
        kind = "MaxPool" if op.startswith("max") else "AveragePool"
        extra = {} if kind == "MaxPool" else {"count_include_pad": 0}
        return g.node(kind, [x], kernel_shape=pool, strides=strides, pads=pads, **extra)
    if op.startswith("global_average_pooling"):
        y = g.node("GlobalAveragePool", [x])
        if layer.get("keepdims", False):
            return y
        return g.node("Flatten", [y], axis=1)
    if op == "zero_padding2d":
        (top, bottom), (left, right) = layer["padding"]
        pads = np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
        return g.node("Pad", [x, g.constant("pads", pads)])
    if op == "rescaling":
        def per_channel(value: Any) -> np.ndarray:
            v = np.asarray(value, np.float32)
            return v.reshape(-1, *[1] * (len(in_shape) - 2)) if v.ndim else v
        y = g.node("Mul", [x, g.constant("scale", per_channel(layer["scale"]))])
        y = g.node("Add", [y, g.constant("offset", per_channel(layer.get("offset", 0.0)))])
        return _onnx_activation(g, y, layer.get("activation", "linear"), len(in_shape))
    if op == "reshape" and len(layer["target_shape"]) == 1:
        return g.node("Flatten", [x], axis=1)
    raise ValueError(f"onnx_model: op {op} (on a rank-{len(in_shape)} input) not covered")


def onnx_model(model: dict, weights: dict, shapes: dict) -> Any:
    """The model.json as an ONNX model (opset 17); `shapes`: every value's channels-last
    shape (from the float64 reference, say). Inputs and outputs stay channels-last."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = OnnxGraph(helper, numpy_helper)

    def to_first(shape: list[int]) -> list[int]:
        return [0, len(shape) - 1, *range(1, len(shape) - 1)]

    def to_last(shape: list[int]) -> list[int]:
        return [0, *range(2, len(shape)), 1]

    values = {}
    for name, spec in model["inputs"].items():
        shape = spec["shape"]
        values[name] = g.node("Transpose", [name], perm=to_first(shape)) if len(shape) > 2 else name
    for layer in model["layers"]:
        values[layer["name"]] = _onnx_layer(g, layer, values, shapes, weights)
    outputs = []
    for name in model["outputs"]:
        shape = shapes[name]
        out = name + "__out"
        if len(shape) > 2:
            g.node("Transpose", [values[name]], out, perm=to_last(shape))
        else:
            g.node("Identity", [values[name]], out)
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, list(shape)))
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s["shape"])
              for n, s in model["inputs"].items()]
    graph = helper.make_graph(g.nodes, model["name"], inputs, outputs, g.initializers)
    onnx_model_ = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                    producer_name="sepc-bench")
    onnx_model_.ir_version = 8
    onnx.checker.check_model(onnx_model_)
    return onnx_model_
