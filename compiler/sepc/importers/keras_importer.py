"""Keras (.keras files, Keras 3 on any backend) -> model.json. Keras is channels-last and
its layer configs are what model.json's fields are named after, so layers map nearly one to
one; Dropout is an identity at inference."""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from ..errors import UserError
from .builder import ModelBuilder, c_identifier

ACTIVATIONS = {"linear": "linear", "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid",
               "tanh": "tanh", "softmax": "softmax", "hard_silu": "hard_swish",
               "hard_swish": "hard_swish"}


def load(path: str):
    # Keras 3 defaults to the TensorFlow backend; sepc's extra installs it on PyTorch.
    if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("tensorflow") is None:
        os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except ImportError:
        raise UserError(f"{path}: importing Keras models needs Keras: pip install -e '.[keras]' "
                        "(with KERAS_BACKEND=torch for the PyTorch backend)") from None
    if not os.path.exists(path):
        raise UserError(f"{path}: file does not exist, expected a .keras file")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # Keras raises many kinds for a bad file
        raise UserError(f"{path}: not a loadable .keras file: {str(e).splitlines()[0]}") from None


def history_names(value) -> list[str]:
    """The layers whose outputs a node's call arguments are (nested lists of tensors)."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"][0]]
        return [n for v in value.values() for n in history_names(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in history_names(v)]
    return []


def shape_of(keras_tensor) -> list[int]:
    return [1 if d is None else int(d) for d in keras_tensor.shape]


def import_keras(path: str) -> ModelBuilder:
    model = load(path)
    b = ModelBuilder(c_identifier(model.name), path)
    config = model.get_config()
    layer_configs = {lc["name"]: lc for lc in config.get("layers", [])}
    for layer in model.layers:
        lc = layer_configs.get(layer.name, {})
        nodes = lc.get("inbound_nodes", [])
        if len(nodes) > 1:
            b.problem(layer.name, type(layer).__name__, "used more than once (shared layers)")
            continue
        sources = history_names(nodes[0]["args"]) if nodes else []
        convert(b, layer, sources)
        b.stand_in(layer.name, shape_of(layer.output))
    outputs = config.get("output_layers") or [[model.layers[-1].name, 0, 0]]
    if outputs and not isinstance(outputs[0], (list, tuple)):   # a single output: [name, 0, 0]
        outputs = [outputs]
    b.outputs = [o[0] for o in outputs]
    return b


def activation_of(b: ModelBuilder, layer, name: str) -> str | None:
    act = layer.get_config().get("activation", "linear")
    if not isinstance(act, str) or act not in ACTIVATIONS:
        b.problem(name, type(layer).__name__, f"activation {act!r} is not supported")
        return None
    return ACTIVATIONS[act]


def convert(b: ModelBuilder, layer, sources: list[str]) -> None:
    kind = type(layer).__name__
    name = layer.name
    cfg = layer.get_config()
    if kind == "InputLayer":
        b.add_input(name, shape_of(layer.output))
        return
    if not sources or not all(b.known(s) for s in sources):
        if not b.problems:   # a missing input is a consequence of an earlier problem
            b.problem(name, kind, "its input could not be imported")
        return
    shape = shape_of(layer.output)
    weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
    src = sources[0]

    def conv_fields():
        if cfg.get("data_format", "channels_last") != "channels_last":
            b.problem(name, kind, "data_format channels_first is not supported")
        return {"kernel_size": list(cfg["kernel_size"]), "strides": list(cfg["strides"]),
                "padding": cfg["padding"], "dilation_rate": list(cfg["dilation_rate"]),
                "use_bias": cfg["use_bias"], "activation": activation_of(b, layer, name)}

    if kind in ("Conv2D", "Conv1D"):
        if cfg.get("groups", 1) != 1:
            b.problem(name, kind, f"groups={cfg['groups']} (only 1, or a DepthwiseConv) is supported")
            return
        params = {"kernel": weights[0]} | ({"bias": weights[1]} if cfg["use_bias"] else {})
        b.add(name, "conv2d" if kind == "Conv2D" else "conv1d", src, shape, params,
              filters=cfg["filters"], **conv_fields())
    elif kind in ("DepthwiseConv2D", "DepthwiseConv1D"):
        params = {"depthwise_kernel": weights[0]} | ({"bias": weights[1]} if cfg["use_bias"] else {})
        b.add(name, "depthwise_conv2d" if kind.endswith("2D") else "depthwise_conv1d", src, shape,
              params, depth_multiplier=cfg["depth_multiplier"], **conv_fields())
    elif kind in ("SeparableConv2D", "SeparableConv1D"):
        params = {"depthwise_kernel": weights[0], "pointwise_kernel": weights[1]} \
            | ({"bias": weights[2]} if cfg["use_bias"] else {})
        b.add(name, "separable_conv2d" if kind.endswith("2D") else "separable_conv1d", src, shape,
              params, filters=cfg["filters"], depth_multiplier=cfg["depth_multiplier"],
              **conv_fields())
    elif kind == "BatchNormalization":
        axis = cfg["axis"]
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        if axis not in (-1, len(shape) - 1):
            b.problem(name, kind, f"axis {cfg['axis']} (only the channel axis, -1) is supported")
            return
        channels = shape[-1]
        it = iter(weights)
        gamma = next(it) if cfg.get("scale", True) else np.ones(channels, np.float32)
        beta = next(it) if cfg.get("center", True) else np.zeros(channels, np.float32)
        mean, variance = next(it), next(it)
        b.add(name, "batch_norm", src, shape,
              {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": variance},
              epsilon=float(cfg["epsilon"]))
    elif kind == "ReLU":
        if cfg.get("negative_slope", 0.0) or cfg.get("threshold", 0.0):
            b.problem(name, kind, "negative_slope and threshold must be 0")
            return
        max_value = cfg.get("max_value")
        if max_value is None:
            b.add(name, "activation", src, shape, activation="relu")
        elif float(max_value) == 6.0:
            b.add(name, "activation", src, shape, activation="relu6")
        else:
            b.problem(name, kind, f"max_value={max_value} (only none or 6) is supported")
    elif kind == "Activation":
        act = activation_of(b, layer, name)
        if act:
            b.add(name, "activation", src, shape, activation=act)
    elif kind == "Softmax":
        b.add(name, "activation", src, shape, activation="softmax")
    elif kind == "Dropout":
        b.alias(name, src)
    elif kind == "ZeroPadding2D":
        b.add(name, "zero_padding2d", src, shape, padding=[list(p) for p in cfg["padding"]])
    elif kind == "Add":
        b.add(name, "add", sources, shape)
    elif kind in ("GlobalAveragePooling2D", "GlobalAveragePooling1D"):
        b.add(name, "global_average_pooling2d" if kind.endswith("2D") else "global_average_pooling1d",
              src, shape, keepdims=bool(cfg.get("keepdims", False)))
    elif kind in ("MaxPooling2D", "AveragePooling2D"):
        b.add(name, "max_pooling2d" if kind.startswith("Max") else "average_pooling2d", src, shape,
              pool_size=list(cfg["pool_size"]), strides=list(cfg["strides"]), padding=cfg["padding"])
    elif kind == "Dense":
        params = {"kernel": weights[0]} | ({"bias": weights[1]} if cfg["use_bias"] else {})
        b.add(name, "dense", src, shape, params, units=cfg["units"], use_bias=cfg["use_bias"],
              activation=activation_of(b, layer, name))
    elif kind == "Reshape":
        b.add(name, "reshape", src, shape, target_shape=list(cfg["target_shape"]))
    elif kind == "Flatten":
        b.add(name, "reshape", src, shape, target_shape=[int(np.prod(shape[1:]))])
    else:
        b.problem(name, kind, "this layer type is not supported")
