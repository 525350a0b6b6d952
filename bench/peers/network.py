"""Whole networks for the benchmarks, as model.json in Keras' layout (convs without bias
followed by batch norm, 'same' padding): the suite of bench/network.py and the
compile-time benchmark's MobileNetV1 (bench/mobilenet_v1.py).

- MobileNetV1 (Howard et al. 2017) at a width and resolution;
- MobileNetV2 (Sandler et al. 2018): inverted residuals, linear bottlenecks;
- Xception (Chollet 2017) at any resolution >= 71: separable convs, max pooling, stride-2
  1x1 shortcuts;
- DS-CNN-L (Zhang et al., "Hello Edge"): 49x10 MFCC input, a 10x4 stride-(2,1) conv, five
  depthwise-separable blocks of 276 channels, 12 classes;
- a 1-D separable keyword spotter (MatchboxNet-like): 98 frames x 40 MFCC, 1-D separable
  convs with kernels 13-21, 12 classes;
- MobileNetV3-Small and -Large (Howard et al. 2019, as keras.applications builds them, also
  minimalistic): hard-swish, 5x5 depthwise convs, squeeze-excite (global pooling with
  keepdims, two 1x1 convs, hard-sigmoid, a broadcast multiply);
- EfficientNet-B0 (Tan & Le 2019, as keras.applications) with swish and squeeze-excite, and
  EfficientNet-Lite0 (the same stages, ReLU6, no squeeze-excite).
The input preprocessing of the Keras applications (Rescaling, Normalization) is left out:
the networks take preprocessed inputs. The classifier heads are dense layers on the pooled
features (Keras writes MobileNetV3's as 1x1 convs on a 1x1 map: the same function).
Weights come from peers/weights.py (seeded, He-scaled, batch norms near identity).
"""
from __future__ import annotations

INPUT_SHAPE = [1, 224, 224, 3]
STEM_FILTERS = 32
# (pointwise filters, depthwise stride) of MobileNetV1's 13 depthwise-separable blocks.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]
CLASSES = 1000


def conv_bn(op, name, source, activation="relu6", **attrs):
    """A conv without bias followed by batch norm (+ activation), as Keras writes them."""
    return [{"name": name, "op": op, "input": source, "use_bias": False, **attrs},
            {"name": name + "_bn", "op": "batch_norm", "input": name, "epsilon": 0.001,
             "activation": activation}]


def network(name, shape, layers, output):
    return {"sepc": 1, "name": name, "inputs": {"x": {"shape": shape, "dtype": "float32"}},
            "layers": layers, "outputs": [output]}


def head(source, classes):
    return [{"name": "pool", "op": "global_average_pooling2d", "input": source},
            {"name": "predictions", "op": "dense", "input": "pool", "units": classes,
             "activation": "softmax"}]


def mobilenet_v1(alpha: float = 1.0, resolution: int = 224, name: str = "mobilenet_v1") -> dict:
    layers = conv_bn("conv2d", "stem", "x", filters=int(STEM_FILTERS * alpha), kernel_size=[3, 3],
                     strides=[2, 2], padding="same")
    previous = "stem_bn"
    for index, (filters, stride) in enumerate(BLOCKS, start=1):
        layers += conv_bn("depthwise_conv2d", f"dw{index}", previous, kernel_size=[3, 3],
                          strides=[stride, stride], padding="same", depth_multiplier=1)
        layers += conv_bn("conv2d", f"pw{index}", f"dw{index}_bn", filters=int(filters * alpha),
                          kernel_size=[1, 1], padding="valid")
        previous = f"pw{index}_bn"
    return network(name, [1, resolution, resolution, 3], layers + head(previous, CLASSES),
                   "predictions")


def mobilenet_v1_model() -> dict:
    return mobilenet_v1()


def divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def mobilenet_v2(alpha: float = 1.0, resolution: int = 224, name: str = "mobilenet_v2") -> dict:
    stages = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
              (6, 160, 3, 2), (6, 320, 1, 1)]
    channels = divisible(32 * alpha)
    layers = conv_bn("conv2d", "stem", "x", filters=channels, kernel_size=3, strides=2,
                     padding="same")
    previous, block = "stem_bn", 0
    for expand, out, count, stride in stages:
        for i in range(count):
            out_channels, s, prefix = divisible(out * alpha), stride if i == 0 else 1, f"b{block}"
            block_input = source = previous
            if expand != 1:
                layers += conv_bn("conv2d", prefix + "_expand", source,
                                  filters=channels * expand, kernel_size=1)
                source = prefix + "_expand_bn"
            layers += conv_bn("depthwise_conv2d", prefix + "_dw", source, kernel_size=3, strides=s,
                              padding="same")
            layers += conv_bn("conv2d", prefix + "_project", prefix + "_dw_bn",
                              activation="linear", filters=out_channels, kernel_size=1)
            previous = prefix + "_project_bn"
            if s == 1 and channels == out_channels:
                layers.append({"name": prefix + "_add", "op": "add",
                               "inputs": [block_input, previous]})
                previous = prefix + "_add"
            channels, block = out_channels, block + 1
    last = 1280 if alpha <= 1.0 else divisible(1280 * alpha)
    layers += conv_bn("conv2d", "last", previous, filters=last, kernel_size=1)
    return network(name, [1, resolution, resolution, 3], layers + head("last_bn", CLASSES),
                   "predictions")


def xception(resolution: int = 150, name: str = "xception") -> dict:
    layers = conv_bn("conv2d", "stem1", "x", activation="relu", filters=32, kernel_size=3,
                     strides=2)
    layers += conv_bn("conv2d", "stem2", "stem1_bn", activation="relu", filters=64, kernel_size=3)
    previous = "stem2_bn"

    def separable(name, source, filters, activation="linear"):
        return conv_bn("separable_conv2d", name, source, activation=activation, filters=filters,
                       kernel_size=3, padding="same")

    def downsampling(index, source, filters, relu_first):
        block = []
        start = source
        if relu_first:
            block.append({"name": f"e{index}_relu", "op": "activation", "input": source,
                          "activation": "relu"})
            start = f"e{index}_relu"
        block += separable(f"e{index}_sep1", start, filters[0], activation="relu")
        block += separable(f"e{index}_sep2", f"e{index}_sep1_bn", filters[1])
        block.append({"name": f"e{index}_pool", "op": "max_pooling2d", "input": f"e{index}_sep2_bn",
                      "pool_size": 3, "strides": 2, "padding": "same"})
        block += conv_bn("conv2d", f"e{index}_res", source, activation="linear",
                         filters=filters[1], kernel_size=1, strides=2, padding="same")
        block.append({"name": f"e{index}_add", "op": "add",
                      "inputs": [f"e{index}_pool", f"e{index}_res_bn"]})
        return block, f"e{index}_add"

    for index, (filters, relu_first) in enumerate((((128, 128), False), ((256, 256), True),
                                                   ((728, 728), True)), start=1):
        block, previous = downsampling(index, previous, filters, relu_first)
        layers += block
    for m in range(8):
        source = previous
        for j in range(3):
            layers.append({"name": f"m{m}_relu{j}", "op": "activation", "input": previous,
                           "activation": "relu"})
            layers += separable(f"m{m}_sep{j}", f"m{m}_relu{j}", 728)
            previous = f"m{m}_sep{j}_bn"
        layers.append({"name": f"m{m}_add", "op": "add", "inputs": [source, previous]})
        previous = f"m{m}_add"
    block, previous = downsampling(4, previous, (728, 1024), True)
    layers += block
    layers += separable("x1", previous, 1536, activation="relu")
    layers += separable("x2", "x1_bn", 2048, activation="relu")
    return network(name, [1, resolution, resolution, 3], layers + head("x2_bn", CLASSES),
                   "predictions")


def ds_cnn_l(name: str = "ds_cnn_l") -> dict:
    channels = 276
    layers = conv_bn("conv2d", "stem", "x", activation="relu", filters=channels,
                     kernel_size=[10, 4], strides=[2, 1], padding="same")
    previous = "stem_bn"
    for i in range(5):
        layers += conv_bn("depthwise_conv2d", f"dw{i}", previous, activation="relu",
                          kernel_size=3, padding="same")
        layers += conv_bn("conv2d", f"pw{i}", f"dw{i}_bn", activation="relu", filters=channels,
                          kernel_size=1)
        previous = f"pw{i}_bn"
    return network(name, [1, 49, 10, 1], layers + head(previous, 12), "predictions")


def kws_1d(name: str = "kws_1d") -> dict:
    channels = 128
    layers = conv_bn("conv1d", "stem", "x", activation="relu", filters=channels, kernel_size=11,
                     strides=2, padding="same")
    previous = "stem_bn"
    for i, kernel in enumerate((13, 15, 17, 21)):
        layers += conv_bn("separable_conv1d", f"sep{i}", previous, activation="relu",
                          filters=channels, kernel_size=kernel, padding="same")
        previous = f"sep{i}_bn"
    layers += conv_bn("conv1d", "last", previous, activation="relu", filters=channels,
                      kernel_size=1)
    layers += [{"name": "pool", "op": "global_average_pooling1d", "input": "last_bn"},
               {"name": "predictions", "op": "dense", "input": "pool", "units": 12,
                "activation": "softmax"}]
    return network(name, [1, 98, 40], layers, "predictions")


def squeeze_excite(prefix: str, source: str, channels: int, squeezed: int,
                   inner: str, gate: str) -> tuple[list, str]:
    """Global pooling (keepdims) -> 1x1 conv to `squeezed` (+ inner activation) -> 1x1 conv
    back (+ gate) -> the block's tensor scaled per channel."""
    layers = [{"name": prefix + "_se_pool", "op": "global_average_pooling2d", "input": source,
               "keepdims": True},
              {"name": prefix + "_se_reduce", "op": "conv2d", "input": prefix + "_se_pool",
               "filters": squeezed, "kernel_size": 1, "activation": inner},
              {"name": prefix + "_se_expand", "op": "conv2d", "input": prefix + "_se_reduce",
               "filters": channels, "kernel_size": 1, "activation": gate},
              {"name": prefix + "_se", "op": "multiply", "inputs": [source, prefix + "_se_expand"]}]
    return layers, prefix + "_se"


def inverted_residual(prefix: str, source: str, channels: int, expanded: int, out: int,
                      kernel: int, stride: int, activation: str,
                      se: tuple[int, str, str] | None) -> tuple[list, str]:
    """Expand (1x1, when expanded != channels) -> depthwise -> [squeeze-excite] -> project
    (linear) [-> add of the block's input]; se: (squeezed channels, inner, gate)."""
    layers, previous = [], source
    if expanded != channels:
        layers += conv_bn("conv2d", prefix + "_expand", previous, activation=activation,
                          filters=expanded, kernel_size=1)
        previous = prefix + "_expand_bn"
    layers += conv_bn("depthwise_conv2d", prefix + "_dw", previous, activation=activation,
                      kernel_size=kernel, strides=stride, padding="same")
    previous = prefix + "_dw_bn"
    if se is not None:
        block, previous = squeeze_excite(prefix, previous, expanded, *se)
        layers += block
    layers += conv_bn("conv2d", prefix + "_project", previous, activation="linear", filters=out,
                      kernel_size=1)
    previous = prefix + "_project_bn"
    if stride == 1 and channels == out:
        layers.append({"name": prefix + "_add", "op": "add", "inputs": [source, previous]})
        previous = prefix + "_add"
    return layers, previous


# (kernel, expanded channels, out channels, squeeze-excite, stride, hard-swish) per block
MOBILENET_V3 = {
    "small": [(3, 16, 16, True, 2, False), (3, 72, 24, False, 2, False),
              (3, 88, 24, False, 1, False), (5, 96, 40, True, 2, True),
              (5, 240, 40, True, 1, True), (5, 240, 40, True, 1, True),
              (5, 120, 48, True, 1, True), (5, 144, 48, True, 1, True),
              (5, 288, 96, True, 2, True), (5, 576, 96, True, 1, True),
              (5, 576, 96, True, 1, True)],
    "large": [(3, 16, 16, False, 1, False), (3, 64, 24, False, 2, False),
              (3, 72, 24, False, 1, False), (5, 72, 40, True, 2, False),
              (5, 120, 40, True, 1, False), (5, 120, 40, True, 1, False),
              (3, 240, 80, False, 2, True), (3, 200, 80, False, 1, True),
              (3, 184, 80, False, 1, True), (3, 184, 80, False, 1, True),
              (3, 480, 112, True, 1, True), (3, 672, 112, True, 1, True),
              (5, 672, 160, True, 2, True), (5, 960, 160, True, 1, True),
              (5, 960, 160, True, 1, True)],
}


def mobilenet_v3(size: str, minimalistic: bool = False, resolution: int = 224,
                 name: str = "mobilenet_v3") -> dict:
    """keras.applications.MobileNetV3Small/Large at alpha 1.0; minimalistic: 3x3 kernels,
    ReLU, no squeeze-excite."""
    def act(hard_swish: bool) -> str:
        return "hard_swish" if hard_swish and not minimalistic else "relu"

    layers = conv_bn("conv2d", "stem", "x", activation=act(True), filters=16, kernel_size=3,
                     strides=2, padding="same")
    previous, channels = "stem_bn", 16
    for index, (kernel, expanded, out, se, stride, hs) in enumerate(MOBILENET_V3[size]):
        excite = (divisible(expanded * 0.25), "relu", "hard_sigmoid") if se and not minimalistic else None
        block, previous = inverted_residual(f"b{index}", previous, channels, expanded, out,
                                            3 if minimalistic else kernel, stride, act(hs), excite)
        layers += block
        channels = out
    layers += conv_bn("conv2d", "last", previous, activation=act(True), filters=channels * 6,
                      kernel_size=1)
    layers += [{"name": "pool", "op": "global_average_pooling2d", "input": "last_bn"},
               {"name": "features", "op": "dense", "input": "pool",
                "units": 1024 if size == "small" else 1280, "activation": act(True)},
               {"name": "predictions", "op": "dense", "input": "features", "units": CLASSES,
                "activation": "softmax"}]
    return network(name, [1, resolution, resolution, 3], layers, "predictions")


# (kernel, repeats, out channels, expansion, stride) per stage, from 32 stem channels
EFFICIENTNET_B0 = [(3, 1, 16, 1, 1), (3, 2, 24, 6, 2), (5, 2, 40, 6, 2), (3, 3, 80, 6, 2),
                   (5, 3, 112, 6, 1), (5, 4, 192, 6, 2), (3, 1, 320, 6, 1)]


def efficientnet(lite: bool = False, resolution: int = 224, name: str = "efficientnet") -> dict:
    """keras.applications.EfficientNetB0 (swish, squeeze-excite from a quarter of the block's
    input channels, sigmoid gate); lite: EfficientNet-Lite0 (ReLU6, no squeeze-excite)."""
    activation = "relu6" if lite else "swish"
    layers = conv_bn("conv2d", "stem", "x", activation=activation, filters=32, kernel_size=3,
                     strides=2, padding="same")
    previous, channels, block = "stem_bn", 32, 0
    for kernel, repeats, out, expansion, stride in EFFICIENTNET_B0:
        for i in range(repeats):
            excite = None if lite else (max(1, int(channels * 0.25)), "swish", "sigmoid")
            layers_, previous = inverted_residual(f"b{block}", previous, channels,
                                                  channels * expansion, out, kernel,
                                                  stride if i == 0 else 1, activation, excite)
            layers += layers_
            channels, block = out, block + 1
    layers += conv_bn("conv2d", "last", previous, activation=activation, filters=1280,
                      kernel_size=1)
    return network(name, [1, resolution, resolution, 3], layers + head("last_bn", CLASSES),
                   "predictions")


NETWORKS = {
    "mobilenet_v1_1.0_224": lambda: mobilenet_v1(1.0, 224, "mobilenet_v1_1_0_224"),
    "mobilenet_v1_0.5_160": lambda: mobilenet_v1(0.5, 160, "mobilenet_v1_0_5_160"),
    "mobilenet_v2_1.0_224": lambda: mobilenet_v2(1.0, 224, "mobilenet_v2_1_0_224"),
    "mobilenet_v2_0.35_96": lambda: mobilenet_v2(0.35, 96, "mobilenet_v2_0_35_96"),
    "xception_150": lambda: xception(150, "xception_150"),
    "ds_cnn_l": ds_cnn_l,
    "kws_1d": kws_1d,
    "mobilenet_v3_small": lambda: mobilenet_v3("small", name="mobilenet_v3_small"),
    "mobilenet_v3_large": lambda: mobilenet_v3("large", name="mobilenet_v3_large"),
    "mobilenet_v3_small_minimalistic": lambda: mobilenet_v3(
        "small", minimalistic=True, name="mobilenet_v3_small_minimalistic"),
    "efficientnet_b0": lambda: efficientnet(name="efficientnet_b0"),
    "efficientnet_lite0": lambda: efficientnet(lite=True, name="efficientnet_lite0"),
}

