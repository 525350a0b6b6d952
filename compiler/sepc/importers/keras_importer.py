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
    model = load(path)
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
    for layer, sources in graph:
        convert(b, layer, sources)
        b.stand_in(layer.name, shape_of(layer.output))
    outputs = config.get("output_layers") or [[model.layers[-1].name, 0, 0]]
    if outputs and not isinstance(outputs[0], (list, tuple)):   # a single output: [name, 0, 0]
        outputs = [outputs]
    b.outputs = [o[0] for o in outputs]
    return b


Graph = list[tuple[Any, list[str]]]   # each layer, and the layers its inputs come from


def functional_graph(b: ModelBuilder, model: Any, config: dict[str, Any]) -> Graph:
    """The layers' inputs as the config's inbound nodes say; a shared layer is a problem,
    and so is a Keras op used on tensors (`x + 3`, `keras.ops.multiply`), which is not one
    of `model.layers`: it is reported by its own name, not through the layer it feeds."""
    import keras
    layer_configs = {lc["name"]: lc for lc in config.get("layers", [])}
    graph: Graph = []
    for layer in getattr(model, "operations", model.layers):
        if not isinstance(layer, keras.layers.Layer):
            b.problem(layer.name, f"{type(layer).__name__}, a Keras op",
                      "operations on tensors are not supported; use layers")
            continue
        nodes = layer_configs.get(layer.name, {}).get("inbound_nodes", [])
        if len(nodes) > 1:
            b.problem(layer.name, type(layer).__name__, "used more than once (shared layers)")
            continue
        graph.append((layer, history_names(nodes[0]["args"]) if nodes else []))
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
        graph.append((layer, [previous]))
        previous = layer.name
    return graph


class Layer:
    """A Keras layer whose inputs are imported, as its converter sees it."""

    def __init__(self, b: ModelBuilder, layer: Any, sources: list[str]):
        self.b = b
        self.sources = sources
        self.kind: str = type(layer).__name__
        self.name: str = layer.name
        self.cfg: dict[str, Any] = layer.get_config()
        self.shape = shape_of(layer.output)
        self.weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]

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


def convert(b: ModelBuilder, layer: Any, sources: list[str]) -> None:
    kind = type(layer).__name__
    if kind == "InputLayer":
        b.add_input(layer.name, shape_of(layer.output))
    elif kind not in CONVERTERS:    # reported behind unimported inputs too: all in one run
        b.problem(layer.name, kind, "this layer type is not supported")
    elif not sources or not all(b.known(s) for s in sources):
        if not b.problems:   # a missing input is a consequence of an earlier problem
            b.problem(layer.name, kind, "its input could not be imported")
    else:
        CONVERTERS[kind](Layer(b, layer, sources))


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
    x.b.add(x.name, "add", x.sources, x.shape)


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
    "ZeroPadding2D": zero_padding,
    "Add": add,
    "GlobalAveragePooling1D": partial(global_average_pooling, "global_average_pooling1d"),
    "GlobalAveragePooling2D": partial(global_average_pooling, "global_average_pooling2d"),
    "MaxPooling2D": partial(pooling, "max_pooling2d"),
    "AveragePooling2D": partial(pooling, "average_pooling2d"),
    "Dense": dense,
    "Reshape": reshape,
    "Flatten": flatten,
}
