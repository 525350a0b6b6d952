"""An independent float64 NumPy interpreter of model.json (shared/spec/model-json.md).

It is the oracle the compiler is tested against, so it is written from the spec alone and
never imports `sepc`: a misreading shared with the compiler would hide the very bugs the
tests exist to find. Clarity beats speed here; every op is a direct transcription of the
spec with explicit padding, tap-by-tap accumulation and einsum.

    outputs = run_reference(model_dict, weights, {"x": x})  # {output name: float64 array}
    shapes = parameter_shapes(model_dict)           # {"dw/depthwise_kernel": (3, 3, 8, 1), ...}
"""
from __future__ import annotations

import itertools
import math
from typing import Callable, Mapping

import numpy as np

SPATIAL_RANK = {
    "conv2d": 2, "depthwise_conv2d": 2, "separable_conv2d": 2,
    "conv1d": 1, "depthwise_conv1d": 1, "separable_conv1d": 1,
    "zero_padding2d": 2, "cropping2d": 2, "max_pooling2d": 2, "average_pooling2d": 2,
    "global_average_pooling2d": 2, "global_average_pooling1d": 1,
}

# Reads one parameter: (layer name, short name such as "kernel", expected shape) -> float64.
ParameterSource = Callable[[str, str, tuple], np.ndarray]


def _sigmoid(x):
    # The tanh form never overflows, unlike 1 / (1 + exp(-x)) for large negative x.
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax_last_axis(x):
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "hard_swish": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    # sepc's extensions of the spec (docs/model-json.md): Keras 3's definitions.
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "swish": lambda x: x * _sigmoid(x),
    "silu": lambda x: x * _sigmoid(x),
    "softmax": _softmax_last_axis,
}


def _activate(layer, x):
    return ACTIVATIONS[layer.get("activation", "linear")](x)


def _per_dim(value, rank):
    """An int or a list with one entry per spatial dimension -> a tuple of `rank` ints."""
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise ValueError(f"expected {rank} entries, got {value!r}")
    return tuple(int(v) for v in value)


def _padding_pairs(padding, in_sizes, kernel, strides, dilation):
    """Resolve `valid` / `same` (Keras rule) / explicit pairs to one (before, after) per dim."""
    if padding == "valid":
        return [(0, 0)] * len(in_sizes)
    if padding == "same":
        pairs = []
        for size, k, s, d in zip(in_sizes, kernel, strides, dilation, strict=True):
            out = math.ceil(size / s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pairs.append((total // 2, total - total // 2))
        return pairs
    if len(padding) != len(in_sizes) or any(len(pair) != 2 for pair in padding):
        raise ValueError(f"explicit padding needs one [before, after] per dim, got {padding!r}")
    return [(int(before), int(after)) for before, after in padding]


def _pad_spatial(x, pairs, fill):
    widths = [(0, 0)] + list(pairs) + [(0, 0)]
    return np.pad(x, widths, mode="constant", constant_values=fill)


def _windows(padded, kernel, strides, dilation):
    """Yield (tap index, strided view) per kernel tap; the views all have the output's shape.

    Output element o along a dim reads padded position o * stride + tap * dilation.
    """
    spatial = padded.shape[1:-1]
    out_sizes = [(size - (k - 1) * d - 1) // s + 1
                 for size, k, s, d in zip(spatial, kernel, strides, dilation, strict=True)]
    if any(o < 1 for o in out_sizes):
        raise ValueError(f"output spatial size {out_sizes} < 1")
    for tap in itertools.product(*(range(k) for k in kernel)):
        index = [slice(None)]
        for t, o, s, d in zip(tap, out_sizes, strides, dilation, strict=True):
            start = t * d
            index.append(slice(start, start + (o - 1) * s + 1, s))
        index.append(slice(None))
        yield tap, padded[tuple(index)]


def _conv_geometry(layer, x, rank):
    kernel = _per_dim(layer["kernel_size"], rank)
    strides = _per_dim(layer.get("strides", 1), rank)
    dilation = _per_dim(layer.get("dilation_rate", 1), rank)
    pairs = _padding_pairs(layer.get("padding", "valid"), x.shape[1:-1], kernel, strides, dilation)
    return kernel, strides, dilation, pairs


def _depthwise(x, depthwise_kernel, kernel, strides, dilation, pairs):
    """Depthwise conv with depth multiplier M; output channel c*M + m (spec)."""
    channels, multiplier = depthwise_kernel.shape[-2:]
    out = None
    for tap, view in _windows(_pad_spatial(x, pairs, 0.0), kernel, strides, dilation):
        term = view[..., :, None] * depthwise_kernel[tap]          # (..., C, M)
        out = term if out is None else out + term
    # Row-major flattening of (C, M) puts channel c*M + m exactly where the spec wants it.
    return out.reshape(out.shape[:-2] + (channels * multiplier,))


def _conv(layer, x, param, rank):
    kernel, strides, dilation, pairs = _conv_geometry(layer, x, rank)
    filters = layer["filters"]
    weights = param(layer["name"], "kernel", kernel + (x.shape[-1], filters))
    out = None
    for tap, view in _windows(_pad_spatial(x, pairs, 0.0), kernel, strides, dilation):
        term = np.einsum("...c,cf->...f", view, weights[tap])
        out = term if out is None else out + term
    return _bias_and_activation(layer, out, param, filters)


def _depthwise_conv(layer, x, param, rank):
    kernel, strides, dilation, pairs = _conv_geometry(layer, x, rank)
    multiplier = layer.get("depth_multiplier", 1)
    channels = x.shape[-1]
    weights = param(layer["name"], "depthwise_kernel", kernel + (channels, multiplier))
    out = _depthwise(x, weights, kernel, strides, dilation, pairs)
    return _bias_and_activation(layer, out, param, channels * multiplier)


def _separable_conv(layer, x, param, rank):
    kernel, strides, dilation, pairs = _conv_geometry(layer, x, rank)
    multiplier = layer.get("depth_multiplier", 1)
    channels, filters = x.shape[-1], layer["filters"]
    depthwise_kernel = param(layer["name"], "depthwise_kernel", kernel + (channels, multiplier))
    pointwise_kernel = param(layer["name"], "pointwise_kernel",
                             (1,) * rank + (channels * multiplier, filters))
    # Keras applies no bias or activation between the two halves.
    mid = _depthwise(x, depthwise_kernel, kernel, strides, dilation, pairs)
    out = np.einsum("...c,cf->...f", mid, pointwise_kernel.reshape(channels * multiplier, filters))
    return _bias_and_activation(layer, out, param, filters)


def _bias_and_activation(layer, out, param, channels):
    if layer.get("use_bias", True):
        out = out + param(layer["name"], "bias", (channels,))
    return _activate(layer, out)


def _batch_norm(layer, x, param):
    channels = (x.shape[-1],)
    name = layer["name"]
    gamma = param(name, "gamma", channels)
    beta = param(name, "beta", channels)
    mean = param(name, "moving_mean", channels)
    variance = param(name, "moving_variance", channels)
    normalised = (x - mean) / np.sqrt(variance + layer.get("epsilon", 0.001))
    return _activate(layer, normalised * gamma + beta)


def _zero_padding2d(layer, x):
    (top, bottom), (left, right) = layer["padding"]
    return _pad_spatial(x, [(top, bottom), (left, right)], 0.0)


def _pool_geometry(layer, x):
    pool = _per_dim(layer["pool_size"], 2)
    strides = _per_dim(layer.get("strides", pool), 2)
    pairs = _padding_pairs(layer.get("padding", "valid"), x.shape[1:-1], pool, strides, (1, 1))
    return pool, strides, pairs


def _max_pooling2d(layer, x):
    pool, strides, pairs = _pool_geometry(layer, x)
    # -inf padding can never win a max, so padded positions are never picked.
    views = (view for _, view in _windows(_pad_spatial(x, pairs, -np.inf), pool, strides, (1, 1)))
    return np.maximum.reduce(list(views))


def _average_pooling2d(layer, x):
    pool, strides, pairs = _pool_geometry(layer, x)
    total = sum(view for _, view in _windows(_pad_spatial(x, pairs, 0.0), pool, strides, (1, 1)))
    # Pooling a tensor of ones counts the real (unpadded) elements of every window.
    ones = np.ones((1,) + x.shape[1:-1] + (1,))
    count = sum(view for _, view in _windows(_pad_spatial(ones, pairs, 0.0), pool, strides, (1, 1)))
    return total / count


def _global_average_pooling(layer, x, rank):
    if x.ndim != rank + 2:
        raise ValueError(f"{layer['op']} needs a rank-{rank + 2} input, got shape {x.shape}")
    return x.mean(axis=tuple(range(1, rank + 1)), keepdims=layer.get("keepdims", False))


def _dense(layer, x, param):
    units = layer["units"]
    kernel = param(layer["name"], "kernel", (x.shape[-1], units))
    out = np.einsum("...c,cu->...u", x, kernel)
    return _bias_and_activation(layer, out, param, units)


def _reshape(layer, x):
    return x.reshape((x.shape[0],) + tuple(layer["target_shape"]))


def _add(layer, values):
    shapes = {v.shape for v in values}
    if len(shapes) != 1:
        raise ValueError(f"add of different shapes {sorted(shapes)}")
    return _activate(layer, sum(values))


# sepc's extensions of the spec (docs/model-json.md), from their documented meaning.

def _multiply(layer, values):
    """Same shapes, or (N, 1.., C) values broadcast over the spatial axes of the others."""
    full = max(values, key=lambda v: v.size).shape
    for v in values:
        spatially_one = (v.ndim == len(full) >= 3 and v.shape[0] == full[0]
                         and v.shape[-1] == full[-1] and all(d == 1 for d in v.shape[1:-1]))
        if v.shape != full and not spatially_one:
            raise ValueError(f"multiply of shape {v.shape} with {full}")
    out = values[0]
    for v in values[1:]:
        out = out * v
    return _activate(layer, out)


def _per_channel(value, channels):
    """A number or one value per channel, broadcast along the last axis."""
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size not in (1, channels):
        raise ValueError(f"{array.size} values for {channels} channels")
    return array if array.size == channels else array[0]


def _rescaling(layer, x):
    scale = _per_channel(layer["scale"], x.shape[-1])
    offset = _per_channel(layer.get("offset", 0.0), x.shape[-1])
    return _activate(layer, x * scale + offset)


def _concatenate(values):
    if len({v.shape[:-1] for v in values}) != 1:
        raise ValueError(f"concatenate of shapes {[v.shape for v in values]}")
    return np.concatenate(values, axis=-1)


def _cropping2d(layer, x):
    (top, bottom), (left, right) = layer["cropping"]
    height, width = x.shape[1:3]
    if top + bottom >= height or left + right >= width:
        raise ValueError(f"cropping {layer['cropping']} of {x.shape}")
    return x[:, top:height - bottom, left:width - right, :]


# Ops of a list of `inputs`: (layer, values) -> output.
_MULTI_INPUT = {
    "add": _add,
    "multiply": _multiply,
    "concatenate": lambda layer, values: _concatenate(values),
}


def _run_layer(layer, env, param):
    op = layer["op"]
    if op in _MULTI_INPUT:
        return _MULTI_INPUT[op](layer, [env[name] for name in layer["inputs"]])
    x = env[layer["input"]]
    if op in ("conv2d", "conv1d"):
        return _conv(layer, x, param, SPATIAL_RANK[op])
    if op in ("depthwise_conv2d", "depthwise_conv1d"):
        return _depthwise_conv(layer, x, param, SPATIAL_RANK[op])
    if op in ("separable_conv2d", "separable_conv1d"):
        return _separable_conv(layer, x, param, SPATIAL_RANK[op])
    if op == "batch_norm":
        return _batch_norm(layer, x, param)
    if op in ("global_average_pooling2d", "global_average_pooling1d"):
        return _global_average_pooling(layer, x, SPATIAL_RANK[op])
    if op == "dense":
        return _dense(layer, x, param)
    if op in _WITHOUT_PARAMETERS:
        return _WITHOUT_PARAMETERS[op](layer, x)
    raise ValueError(f"layer {layer['name']!r}: unknown op {op!r}")


# Ops of one input and no parameters: (layer, x) -> output.
_WITHOUT_PARAMETERS = {
    "activation": _activate,
    "zero_padding2d": _zero_padding2d,
    "cropping2d": _cropping2d,
    "rescaling": _rescaling,
    "max_pooling2d": _max_pooling2d,
    "average_pooling2d": _average_pooling2d,
    "reshape": _reshape,
}


def _interpret(model: dict, inputs: Mapping[str, np.ndarray], param: ParameterSource):
    env = {}
    for name, spec in model["inputs"].items():
        value = np.asarray(inputs[name], dtype=np.float64)
        if value.shape != tuple(spec["shape"]):
            raise ValueError(f"input {name!r}: shape {value.shape}, model says {spec['shape']}")
        env[name] = value
    for layer in model["layers"]:
        env[layer["name"]] = _run_layer(layer, env, param)
    return {name: env[name] for name in model["outputs"]}


def run_reference(model: dict, weights: Mapping[str, np.ndarray],
                  inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate `model` (a parsed model.json) in float64; returns {output name: array}."""
    def param(layer_name, short_name, shape):
        key = f"{layer_name}/{short_name}"
        value = np.asarray(weights[key], dtype=np.float64)
        if value.shape != tuple(shape):
            raise ValueError(f"parameter {key!r}: shape {value.shape}, layer needs {tuple(shape)}")
        return value

    return _interpret(model, inputs, param)


def parameter_shapes(model: dict) -> dict[str, tuple[int, ...]]:
    """The .npz entries `model` needs, {"layer/short name": shape}, in layer order.

    Found by interpreting the model on zeros with a parameter source that records what
    each layer asks for, so shape inference cannot drift from the interpreter itself.
    """
    shapes = {}

    def record(layer_name, short_name, shape):
        shapes[f"{layer_name}/{short_name}"] = tuple(shape)
        # Ones keep every intermediate finite, e.g. batch_norm with a zero epsilon.
        return np.ones(shape)

    zeros = {name: np.zeros(spec["shape"]) for name, spec in model["inputs"].items()}
    _interpret(model, zeros, record)
    return shapes
