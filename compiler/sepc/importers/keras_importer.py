"""Keras (.keras files, Keras 3 on any backend) -> model.json. Keras is channels-last and
its layer configs are what model.json's fields are named after, so layers map nearly one to
one; Dropout is an identity at inference.

CONVERTERS maps a Keras layer class name to the function that adds the layer to the model;
a class without a row is reported as not supported."""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..errors import UserError
from .builder import ModelBuilder, c_identifier, given_input_shapes

ACTIVATIONS = {"linear": "linear", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid",
               "tanh": "tanh", "softmax": "softmax", "hard_silu": "hard_swish",
               "hard_swish": "hard_swish", "hard_sigmoid": "hard_sigmoid", "swish": "swish",
               "silu": "swish"}


def keras_module(path: str) -> Any:
    """Keras, on the PyTorch backend where TensorFlow is missing: Keras 3 defaults to
    TensorFlow (sepc's extra installs it on PyTorch), and picks the backend when it is first
    imported, so this runs before any other `import keras`."""
    if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None:
        os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except ImportError:
        raise UserError(f"{path}: importing Keras models needs Keras: pip install -e '.[keras]' "
                        "(with KERAS_BACKEND=torch for the PyTorch backend)") from None
    return keras


def load(path: str) -> Any:
    keras = keras_module(path)
    if not os.path.exists(path):
        raise UserError(f"{path}: file does not exist, expected a .keras file")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many kinds for a bad file
        raise UserError(f"{path}: not a loadable .keras file: {str(e).splitlines()[0]}") from None


def history_names(value: Any) -> list[str]:
    """The layers whose outputs a node's call arguments are (nested lists of tensors)."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"][0]]
        return [n for v in value.values() for n in history_names(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in history_names(v)]
    return []


def shape_of(keras_tensor: Any) -> list[int]:
    return [1 if d is None else int(d) for d in keras_tensor.shape]


def input_names(model: Any, config: dict[str, Any]) -> list[str]:
    """The model's Input layers' names, in the order of model.inputs."""
    import keras
    if isinstance(model, keras.Sequential):
        return [layer["config"]["name"] for layer in config["layers"][:1]
                if layer.get("class_name") == "InputLayer"]
    layers = config.get("input_layers") or []
    if layers and not isinstance(layers[0], (list, tuple)):     # one input: [name, 0, 0]
        layers = [layers]
    return [layer[0] for layer in layers]


def with_input_shapes(path: str, model: Any, config: dict[str, Any],
                      given: dict[str, list[int]]) -> Any:
    """The model with the input shapes --input-shape gives (rebuilt on new Inputs, its
    weights copied); the model itself when none are given."""
    import keras
    names = input_names(model, config)
    if not names:     # a Sequential model with no Input: sequential_graph says so
        return model
    shapes = dict(zip(names, (list(t.shape) for t in model.inputs), strict=True))
    if not given_input_shapes(path, shapes, given):
        return model
    inputs = [keras.Input(batch_shape=tuple(given.get(name) or [d or 1 for d in shape]),
                          name=name) for name, shape in shapes.items()]
    rebuilt = keras.models.clone_model(model, input_tensors=inputs[0] if len(inputs) == 1
                                       else inputs)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def import_keras(path: str, input_shapes: dict[str, list[int]] | None = None) -> ModelBuilder:
    return import_keras_model(load(path), path, input_shapes)


def import_keras_model(model: Any, path: str,
                       input_shapes: dict[str, list[int]] | None = None) -> ModelBuilder:
    """A Keras model already in memory (`path` names it in messages)."""
    import keras
    config = model.get_config()
    rebuilt = with_input_shapes(path, model, config, input_shapes or {})
    if rebuilt is not model:
        model, config = rebuilt, rebuilt.get_config()
    b = ModelBuilder(c_identifier(model.name), path)
    if isinstance(model, keras.Sequential):
        graph = sequential_graph(b, model, config, path)
    else:
        graph = functional_graph(b, model, config)
    for layer, sources, args in graph:
        convert(b, layer, sources, args)
        b.stand_in(layer.name, shape_of(layer.output))
    outputs = config.get("output_layers") or [[model.layers[-1].name, 0, 0]]
    if outputs and not isinstance(outputs[0], (list, tuple)):   # a single output: [name, 0, 0]
        outputs = [outputs]
    b.outputs = [o[0] for o in outputs]
    return b


# Each layer (or Keras op), the layers its inputs come from, and its call's arguments as the
# config writes them (tensors as __keras_tensor__ dicts, numbers as numbers).
Graph = list[tuple[Any, list[str], list[Any]]]


def functional_graph(b: ModelBuilder, model: Any, config: dict[str, Any]) -> Graph:
    """The layers' inputs as the config's inbound nodes say; a shared layer is a problem.
    A Keras op used on tensors (`x + 3`, `keras.ops.multiply`) is not one of `model.layers`:
    those of OP_CONVERTERS are converted like layers, any other is reported by its own
    name, not through the layer it feeds."""
    import keras
    layer_configs = {lc["name"]: lc for lc in config.get("layers", [])}
    graph: Graph = []
    for layer in getattr(model, "operations", model.layers):
        is_layer = isinstance(layer, keras.layers.Layer)
        if not is_layer and type(layer).__name__ not in OP_CONVERTERS:
            b.problem(layer.name, f"{type(layer).__name__}, a Keras op",
                      "this operation on tensors is not supported; use layers")
            continue
        nodes = layer_configs.get(layer.name, {}).get("inbound_nodes", [])
        if len(nodes) > 1:
            b.problem(layer.name, type(layer).__name__, "used more than once (shared layers)")
            continue
        args = nodes[0]["args"] if nodes else []
        graph.append((layer, history_names(args) if nodes else [], args))
    return graph


def sequential_graph(b: ModelBuilder, model: Any, config: dict[str, Any], path: str) -> Graph:
    """A Sequential model's config lists its layers without inbound nodes: each takes the
    output of the one before, the first the model's input (added to `b`; not one of
    `model.layers`)."""
    first = config["layers"][0] if config["layers"] else {}
    if first.get("class_name") != "InputLayer":
        raise UserError(f"{path}: the Sequential model has no Input, so its input shape is "
                        "unknown (start it with keras.Input(shape))")
    previous = first["config"]["name"]
    b.add_input(previous, shape_of(model.inputs[0]))
    graph: Graph = []
    for layer in model.layers:
        graph.append((layer, [previous], []))
        previous = layer.name
    return graph


class Layer:
    """A Keras layer whose inputs are imported, as its converter sees it."""

    def __init__(self, b: ModelBuilder, layer: Any, sources: list[str], args: list[Any]):
        self.b = b
        self.layer = layer
        self.sources = sources
        self.args = args
        self.kind: str = type(layer).__name__
        self.name: str = layer.name
        self.cfg: dict[str, Any] = layer.get_config()
        self.shape = shape_of(layer.output)
        self.weights = ([np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
                        if hasattr(layer, "get_weights") else [])

    def add(self, op: str, params: dict[str, np.ndarray] | None = None, **attrs: Any) -> None:
        self.b.add(self.name, op, self.sources[0], self.shape, params, **attrs)

    def problem(self, reason: str) -> None:
        self.b.problem(self.name, self.kind, reason)

    def activation(self) -> str | None:
        """The model.json name of the layer's `activation`; None, and a problem, if sepc has
        no such activation."""
        act = self.cfg.get("activation", "linear")
        if not isinstance(act, str) or act not in ACTIVATIONS:
            self.problem(f"activation {act!r} is not supported")
            return None
        return ACTIVATIONS[act]

    def kernels(self, *names: str) -> dict[str, np.ndarray]:
        """The layer's weights under `names`, in Keras's order, and its bias if it uses one."""
        params = dict(zip(names, self.weights, strict=False))  # the bias, if any, follows
        if self.cfg["use_bias"]:
            params["bias"] = self.weights[len(names)]
        return params


Converter = Callable[[Layer], None]


def convert(b: ModelBuilder, layer: Any, sources: list[str], args: list[Any]) -> None:
    import keras
    kind = type(layer).__name__
    table = CONVERTERS if isinstance(layer, keras.layers.Layer) else OP_CONVERTERS
    if kind == "InputLayer":
        b.add_input(layer.name, shape_of(layer.output))
    elif kind not in table:    # reported behind unimported inputs too: all in one run
        b.problem(layer.name, kind, "this layer type is not supported")
    elif not sources or not all(b.known(s) for s in sources):
        if not b.problems:   # a missing input is a consequence of an earlier problem
            b.problem(layer.name, kind, "its input could not be imported")
    else:
        table[kind](Layer(b, layer, sources, args))


def conv_fields(x: Layer) -> dict[str, Any]:
    """What every convolution's model.json layer says, as its Keras config says it."""
    cfg = x.cfg
    if cfg.get("data_format", "channels_last") != "channels_last":
        x.problem("data_format channels_first is not supported")
    return {"kernel_size": list(cfg["kernel_size"]), "strides": list(cfg["strides"]),
            "padding": cfg["padding"], "dilation_rate": list(cfg["dilation_rate"]),
            "use_bias": cfg["use_bias"], "activation": x.activation()}


def conv(op: str, x: Layer) -> None:
    groups, filters = x.cfg.get("groups", 1), x.cfg["filters"]
    channels = x.b.shape(x.sources[0])[-1]
    if groups == 1:
        x.add(op, x.kernels("kernel"), filters=filters, **conv_fields(x))
    elif groups == channels and filters % channels == 0:
        # A conv with one group per input channel is a depthwise conv: its kernel
        # (K..., 1, C*M) holds output channel c*M + m, depthwise channel c, multiplier m.
        params = x.kernels("kernel")
        kernel = params.pop("kernel")
        depthwise = kernel.reshape(*kernel.shape[:-2], channels, filters // channels)
        x.add(f"depthwise_{op}", {"depthwise_kernel": depthwise, **params},
              depth_multiplier=filters // channels, **conv_fields(x))
    else:
        x.problem(f"groups={groups} (only 1, or one group per input channel) is supported")


def depthwise_conv(op: str, x: Layer) -> None:
    x.add(op, x.kernels("depthwise_kernel"), depth_multiplier=x.cfg["depth_multiplier"],
          **conv_fields(x))


def separable_conv(op: str, x: Layer) -> None:
    x.add(op, x.kernels("depthwise_kernel", "pointwise_kernel"), filters=x.cfg["filters"],
          depth_multiplier=x.cfg["depth_multiplier"], **conv_fields(x))


def batch_normalization(x: Layer) -> None:
    axis = x.cfg["axis"]
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, len(x.shape) - 1):
        x.problem(f"axis {x.cfg['axis']} (only the channel axis, -1) is supported")
        return
    channels = x.shape[-1]
    # Keras leaves out gamma without `scale` and beta without `center`.
    it = iter(x.weights)
    gamma = next(it) if x.cfg.get("scale", True) else np.ones(channels, np.float32)
    beta = next(it) if x.cfg.get("center", True) else np.zeros(channels, np.float32)
    mean, variance = next(it), next(it)
    x.add("batch_norm", {"gamma": gamma, "beta": beta, "moving_mean": mean,
                         "moving_variance": variance}, epsilon=float(x.cfg["epsilon"]))


def relu(x: Layer) -> None:
    if x.cfg.get("negative_slope", 0.0) or x.cfg.get("threshold", 0.0):
        x.problem("negative_slope and threshold must be 0")
        return
    max_value = x.cfg.get("max_value")
    if max_value is None:
        x.add("activation", activation="relu")
    elif float(max_value) == 6.0:
        x.add("activation", activation="relu6")
    else:
        x.problem(f"max_value={max_value} (only none or 6) is supported")


def activation(x: Layer) -> None:
    act = x.activation()
    if act:
        x.add("activation", activation=act)


def softmax(x: Layer) -> None:
    x.add("activation", activation="softmax")


def identity(x: Layer) -> None:
    x.b.alias(x.name, x.sources[0])


def zero_padding(x: Layer) -> None:
    x.add("zero_padding2d", padding=[list(p) for p in x.cfg["padding"]])


def add(x: Layer) -> None:
    shapes = [x.b.shape(s) for s in x.sources]
    if any(s != x.shape for s in shapes):
        x.problem(f"adds shapes {shapes} (only tensors of one shape)")
        return
    x.b.add(x.name, "add", x.sources, x.shape)


def spatially_one(shape: list[int], full: list[int]) -> bool:
    """`full` with every spatial dimension 1 (a squeeze-excite scale, (N, 1, 1, C))."""
    return (len(shape) == len(full) >= 3 and shape[0] == full[0] and shape[-1] == full[-1]
            and all(d == 1 for d in shape[1:-1]))


def activation_of(x: Layer, source: str, activation: str) -> str | None:
    """The input of `source` if that is an `activation` layer applying `activation`."""
    layer = x.b.layer_of(source)
    if layer is not None and layer["op"] == "activation" and layer["activation"] == activation:
        return str(layer["input"])
    return None


def multiply_tensors(x: Layer) -> None:
    """x * y: x * sigmoid(x) and x * hard_sigmoid(x) stay activations (swish, hard_swish);
    a (N, 1.., C) factor broadcasts over the spatial axes."""
    shapes = [x.b.shape(s) for s in x.sources]
    if len(x.sources) == 2:
        for first, second in (x.sources, x.sources[::-1]):
            for gate, act in (("sigmoid", "swish"), ("hard_sigmoid", "hard_swish")):
                if activation_of(x, second, gate) == x.b.value(first):
                    # x * gate(x): the gate layer it leaves unread is not written
                    x.b.add(x.name, "activation", first, x.shape, activation=act)
                    return
    if not all(s == x.shape or spatially_one(s, x.shape) for s in shapes):
        x.problem(f"multiplies shapes {shapes} (only one shape, or (N, 1.., C) factors)")
        return
    x.b.add(x.name, "multiply", x.sources, x.shape)


def custom_scale(x: Layer) -> None:
    """keras.applications' Inception-ResNet residual, `inputs[0] + inputs[1] * scale`: a
    rescaling of the branch and an add."""
    shapes = [x.b.shape(s) for s in x.sources]
    if len(shapes) != 2 or any(s != x.shape for s in shapes):
        x.problem(f"scales and adds shapes {shapes} (only two tensors of one shape)")
        return
    base, branch = x.sources
    scaled = f"{x.name}_scaled"
    x.b.add(scaled, "rescaling", branch, x.shape, scale=float(x.cfg["scale"]), offset=0.0)
    x.b.add(x.name, "add", [base, scaled], x.shape)


def multiply(x: Layer) -> None:
    multiply_tensors(x)


def concatenate(x: Layer) -> None:
    axis = x.cfg.get("axis", -1)
    if axis not in (-1, len(x.shape) - 1):
        x.problem(f"axis {axis} (only the channel axis, -1)")
        return
    x.b.add(x.name, "concatenate", x.sources, x.shape)


def cropping(x: Layer) -> None:
    if x.cfg.get("data_format", "channels_last") != "channels_last":
        x.problem("data_format channels_first is not supported")
        return
    x.add("cropping2d", cropping=[list(map(int, pair)) for pair in x.cfg["cropping"]])


def per_channel(value: Any, channels: int) -> float | list[float] | None:
    """A number, or one per channel, as model.json writes it; None if neither."""
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size == 1:
        return float(array[0])
    return [float(v) for v in array] if array.size == channels else None


def rescale(x: Layer, scale: Any, offset: Any) -> None:
    channels = x.shape[-1]
    scale, offset = per_channel(scale, channels), per_channel(offset, channels)
    if scale is None or offset is None:
        x.problem(f"scale and offset must be numbers or one per channel ({channels})")
        return
    x.add("rescaling", scale=scale, offset=offset)


def rescaling(x: Layer) -> None:
    rescale(x, x.cfg["scale"], x.cfg["offset"])


def normalization(x: Layer) -> None:
    """(x - mean) / max(sqrt(variance), epsilon), Keras's formula, per channel."""
    import keras
    if x.cfg.get("invert", False):
        x.problem("invert=True is not supported")
        return
    mean = np.asarray(keras.ops.convert_to_numpy(x.layer.mean), np.float64)
    variance = np.asarray(keras.ops.convert_to_numpy(x.layer.variance), np.float64)
    if mean.size not in (1, x.shape[-1]) or variance.size != mean.size:
        x.problem(f"axis {x.cfg.get('axis')} (only the channel axis, -1)")
        return
    scale = 1.0 / np.maximum(np.sqrt(variance), keras.config.epsilon())
    rescale(x, scale, -mean * scale)


def numbers_and_tensors(x: Layer) -> tuple[list[float], list[int]] | None:
    """An op's numeric arguments and the positions of its tensor arguments; None if an
    argument is neither."""
    numbers, tensors = [], []
    for position, arg in enumerate(x.args):
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            numbers.append(float(arg))
        elif isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__":
            tensors.append(position)
        else:
            return None
    return numbers, tensors


def scalar_op(x: Layer) -> tuple[float, bool] | None:
    """The number of a `tensor OP number` op and whether the number comes first; None (and
    a problem) if the op is not one tensor and one number."""
    found = numbers_and_tensors(x)
    if found is None or len(found[0]) != 1 or len(found[1]) != 1:
        x.problem("only a tensor and a number, or two tensors, are supported")
        return None
    (number,), (tensor,) = found
    return number, tensor == 1


def tensor_args(x: Layer) -> bool:
    found = numbers_and_tensors(x)
    return found is not None and not found[0] and len(found[1]) == len(x.sources) >= 2


def op_add(x: Layer) -> None:
    if tensor_args(x):
        add(x)
    elif (found := scalar_op(x)) is not None:
        rescale(x, 1.0, found[0])


def op_subtract(x: Layer) -> None:
    if tensor_args(x):
        x.problem("subtracts a tensor (only a number)")
    elif (found := scalar_op(x)) is not None:
        number, number_first = found
        rescale(x, -1.0 if number_first else 1.0, number if number_first else -number)


def op_multiply(x: Layer) -> None:
    """x * y, or x * c; relu6(z + 3) * (1/6) is z's hard_sigmoid (MobileNetV3 writes it so;
    the add and relu6 it leaves unread are not written)."""
    if tensor_args(x):
        multiply_tensors(x)
        return
    found = scalar_op(x)
    if found is None:
        return
    number = found[0]
    relu6_input = activation_of(x, x.sources[0], "relu6")
    shifted = x.b.layer_named(relu6_input) if relu6_input else None
    if (abs(number - 1 / 6) < 1e-7 and shifted is not None and shifted["op"] == "rescaling"
            and shifted["scale"] == 1.0 and shifted["offset"] == 3.0
            and shifted.get("activation", "linear") == "linear"):
        x.b.add(x.name, "activation", x.b.framework_value(shifted["input"]), x.shape,
                activation="hard_sigmoid")
        return
    rescale(x, number, 0.0)


def op_divide(x: Layer) -> None:
    found = None if tensor_args(x) else scalar_op(x)
    if tensor_args(x) or (found is not None and (found[1] or found[0] == 0.0)):
        x.problem("divides by a tensor or zero (only by a nonzero number)")
    elif found is not None:
        rescale(x, 1.0 / found[0], 0.0)


def global_average_pooling(op: str, x: Layer) -> None:
    x.add(op, keepdims=bool(x.cfg.get("keepdims", False)))


def pooling(op: str, x: Layer) -> None:
    x.add(op, pool_size=list(x.cfg["pool_size"]), strides=list(x.cfg["strides"]),
          padding=x.cfg["padding"])


def dense(x: Layer) -> None:
    x.add("dense", x.kernels("kernel"), units=x.cfg["units"], use_bias=x.cfg["use_bias"],
          activation=x.activation())


def reshape(x: Layer) -> None:
    x.add("reshape", target_shape=list(x.cfg["target_shape"]))


def flatten(x: Layer) -> None:
    x.add("reshape", target_shape=[int(np.prod(x.shape[1:]))])


CONVERTERS: dict[str, Converter] = {
    "Conv1D": partial(conv, "conv1d"),
    "Conv2D": partial(conv, "conv2d"),
    "DepthwiseConv1D": partial(depthwise_conv, "depthwise_conv1d"),
    "DepthwiseConv2D": partial(depthwise_conv, "depthwise_conv2d"),
    "SeparableConv1D": partial(separable_conv, "separable_conv1d"),
    "SeparableConv2D": partial(separable_conv, "separable_conv2d"),
    "BatchNormalization": batch_normalization,
    "ReLU": relu,
    "Activation": activation,
    "Softmax": softmax,
    "Dropout": identity,
    "SpatialDropout1D": identity,
    "SpatialDropout2D": identity,
    "GaussianDropout": identity,
    "GaussianNoise": identity,
    "AlphaDropout": identity,
    "Identity": identity,
    "Rescaling": rescaling,
    "Normalization": normalization,
    "Multiply": multiply,
    "Concatenate": concatenate,
    "Cropping2D": cropping,
    "ZeroPadding2D": zero_padding,
    "Add": add,
    "CustomScaleLayer": custom_scale,
    "GlobalAveragePooling1D": partial(global_average_pooling, "global_average_pooling1d"),
    "GlobalAveragePooling2D": partial(global_average_pooling, "global_average_pooling2d"),
    "MaxPooling2D": partial(pooling, "max_pooling2d"),
    "AveragePooling2D": partial(pooling, "average_pooling2d"),
    "Dense": dense,
    "Reshape": reshape,
    "Flatten": flatten,
}


# Keras ops on tensors in a functional model (keras.src.ops classes, not layers), by class
# name; any other op is reported as not supported.
OP_CONVERTERS: dict[str, Converter] = {
    "Add": op_add,
    "Subtract": op_subtract,
    "Multiply": op_multiply,
    "Divide": op_divide,
    "TrueDivide": op_divide,
}
