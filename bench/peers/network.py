"""Whole networks for the benchmarks: MobileNetV1 as a model.json, deterministic random
weights for it, and the same network as a Keras model (for the .tflite peers.make_tflite
writes), so that sepc and LiteRT/XNNPACK run the very same function.

MobileNetV1 here is Keras' layout (224x224x3, width 1.0, 1000 classes): a 3x3 stride-2
stem conv, 13 depthwise-separable blocks (conv without bias, batch norm, relu6), global
average pooling and a softmax dense layer, all with 'same' padding.
"""
from __future__ import annotations

import math

import numpy as np

INPUT_SHAPE = [1, 224, 224, 3]
STEM_FILTERS = 32
# (pointwise filters, depthwise stride) of the 13 depthwise-separable blocks.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
CLASSES = 1000


def conv_bn_relu6(op, name, source, **attrs):
    """A conv without bias followed by batch norm + relu6, as in Keras' MobileNet."""
    return [{"name": name, "op": op, "input": source, "use_bias": False, **attrs},
            {"name": name + "_bn", "op": "batch_norm", "input": name, "epsilon": 0.001,
             "activation": "relu6"}]


def mobilenet_v1_model() -> dict:
    layers = conv_bn_relu6("conv2d", "stem", "x", filters=STEM_FILTERS, kernel_size=[3, 3],
                           strides=[2, 2], padding="same")
    previous = "stem_bn"
    for index, (filters, stride) in enumerate(BLOCKS, start=1):
        layers += conv_bn_relu6("depthwise_conv2d", f"dw{index}", previous, kernel_size=[3, 3],
                                strides=[stride, stride], padding="same", depth_multiplier=1)
        layers += conv_bn_relu6("conv2d", f"pw{index}", f"dw{index}_bn", filters=filters,
                                kernel_size=[1, 1], padding="valid")
        previous = f"pw{index}_bn"
    layers += [
        {"name": "pool", "op": "global_average_pooling2d", "input": previous},
        {"name": "predictions", "op": "dense", "input": "pool", "units": CLASSES,
         "activation": "softmax"},
    ]
    return {"sepc": 1, "name": "mobilenet_v1",
            "inputs": {"x": {"shape": INPUT_SHAPE, "dtype": "float32"}},
            "layers": layers, "outputs": ["predictions"]}


def random_weights(model: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """He-scaled kernels and batch norms near identity, so activations stay in relu6's range
    through 27 layers; only the ops of mobilenet_v1_model are covered."""
    rng = np.random.default_rng(seed)
    channels = {name: spec["shape"][-1] for name, spec in model["inputs"].items()}
    weights = {}
    for layer in model["layers"]:
        name, op, c = layer["name"], layer["op"], channels.get(layer.get("input"))
        if op == "conv2d":
            k = layer["kernel_size"]
            fan_in = k[0] * k[1] * c
            weights[f"{name}/kernel"] = rng.standard_normal((*k, c, layer["filters"])) * math.sqrt(2 / fan_in)
            channels[name] = layer["filters"]
        elif op == "depthwise_conv2d":
            k = layer["kernel_size"]
            weights[f"{name}/depthwise_kernel"] = rng.standard_normal((*k, c, 1)) * math.sqrt(2 / (k[0] * k[1]))
            channels[name] = c
        elif op == "batch_norm":
            weights[f"{name}/gamma"] = 1 + 0.1 * rng.standard_normal(c)
            weights[f"{name}/beta"] = 0.1 * rng.standard_normal(c)
            weights[f"{name}/moving_mean"] = 0.1 * rng.standard_normal(c)
            weights[f"{name}/moving_variance"] = 1 + 0.1 * rng.random(c)
            channels[name] = c
        elif op == "global_average_pooling2d":
            channels[name] = c
        elif op == "dense":
            weights[f"{name}/kernel"] = rng.standard_normal((c, layer["units"])) / math.sqrt(c)
            weights[f"{name}/bias"] = 0.1 * rng.standard_normal(layer["units"])
            channels[name] = layer["units"]
        else:
            raise ValueError(f"random_weights: op {op} not covered")
    return {key: value.astype(np.float32) for key, value in weights.items()}


def keras_model(model: dict, weights: dict, tf):
    """The model.json as a Keras functional model carrying `weights` (TensorFlow passed in,
    so that this module imports without it)."""
    layers = tf.keras.layers
    (input_name, spec), = model["inputs"].items()
    values = {input_name: tf.keras.Input(shape=spec["shape"][1:], batch_size=spec["shape"][0])}
    for layer in model["layers"]:
        name, op, x = layer["name"], layer["op"], values[layer["input"]]
        if op == "conv2d":
            keras_layer = layers.Conv2D(layer["filters"], layer["kernel_size"],
                                        strides=layer.get("strides", 1),
                                        padding=layer.get("padding", "valid"), use_bias=False, name=name)
            y = keras_layer(x)
            keras_layer.set_weights([weights[f"{name}/kernel"]])
        elif op == "depthwise_conv2d":
            keras_layer = layers.DepthwiseConv2D(layer["kernel_size"], strides=layer.get("strides", 1),
                                                 padding=layer.get("padding", "valid"),
                                                 use_bias=False, name=name)
            y = keras_layer(x)
            keras_layer.set_weights([weights[f"{name}/depthwise_kernel"]])
        elif op == "batch_norm":
            keras_layer = layers.BatchNormalization(epsilon=layer.get("epsilon", 0.001), name=name)
            y = keras_layer(x)
            keras_layer.set_weights([weights[f"{name}/{p}"]
                                     for p in ("gamma", "beta", "moving_mean", "moving_variance")])
        elif op == "global_average_pooling2d":
            y = layers.GlobalAveragePooling2D(name=name)(x)
        elif op == "dense":
            keras_layer = layers.Dense(layer["units"], name=name)
            y = keras_layer(x)
            keras_layer.set_weights([weights[f"{name}/kernel"], weights[f"{name}/bias"]])
        else:
            raise ValueError(f"keras_model: op {op} not covered")
        activation = layer.get("activation", "linear")
        if activation == "relu6":
            y = layers.ReLU(max_value=6.0)(y)
        elif activation == "softmax":
            y = layers.Softmax()(y)
        values[name] = y
    return tf.keras.Model(values[input_name], [values[o] for o in model["outputs"]])


NETWORKS = {"mobilenet_v1": mobilenet_v1_model}
