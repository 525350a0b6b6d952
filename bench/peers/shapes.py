"""The layer shapes of the networks users ship, for bench/shape_sweep.py.

Each network is written out from its paper's (or Keras applications') layer table at
several widths and resolutions; every layer becomes a `Shape`: a depthwise conv with the
1x1 conv it feeds (`pair`), a lone 1x1 conv (`pointwise`: expansions, residual shortcuts,
last convs), a stem conv (`stem`) or a dense head (`dense`). Shapes are deduplicated; the
sweep samples from them with a fixed seed.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    kind: str                  # pair | pointwise | stem | dense | pair1d
    spatial: tuple             # input (H, W), (L,) or () for dense
    channels: int
    filters: int
    kernel: int = 1
    stride: int = 1
    activation: str = "relu6"

    @property
    def name(self) -> str:
        size = "x".join(map(str, self.spatial + (self.channels,)))
        k = f"k{self.kernel}s{self.stride}" if self.kernel > 1 or self.stride > 1 else ""
        return f"{self.kind}_{size}_{k}_{self.filters}_{self.activation}".replace("__", "_")

    @property
    def out_spatial(self) -> tuple:
        return tuple(math.ceil(s / self.stride) for s in self.spatial)

    @property
    def flops(self) -> int:
        pixels = math.prod(self.out_spatial)
        if self.kind in ("pair", "pair1d"):
            return 2 * pixels * self.channels * (self.kernel ** len(self.spatial) + self.filters)
        if self.kind == "stem":
            return 2 * pixels * self.channels * self.filters * self.kernel ** 2
        return 2 * pixels * self.channels * self.filters   # pointwise, dense (pixels = 1)

    def model(self) -> dict:
        """model.json of the layer (with bias, 'same' padding), input x, output y."""
        act = self.activation
        if self.kind == "dense":
            layers = [{"name": "y", "op": "dense", "input": "x", "units": self.filters}]
            shape = [1, self.channels]
        elif self.kind == "pointwise":
            layers = [{"name": "y", "op": "conv2d", "input": "x", "filters": self.filters,
                       "kernel_size": 1, "strides": self.stride, "activation": act}]
            shape = [1, *self.spatial, self.channels]
        elif self.kind == "stem":
            layers = [{"name": "y", "op": "conv2d", "input": "x", "filters": self.filters,
                       "kernel_size": self.kernel, "strides": self.stride, "padding": "same",
                       "activation": act}]
            shape = [1, *self.spatial, self.channels]
        else:
            suffix = "2d" if self.kind == "pair" else "1d"
            layers = [{"name": "dw", "op": "depthwise_conv" + suffix, "input": "x",
                       "kernel_size": self.kernel, "strides": self.stride, "padding": "same",
                       "activation": act},
                      {"name": "y", "op": "conv" + suffix, "input": "dw", "filters": self.filters,
                       "kernel_size": 1, "activation": act}]
            shape = [1, *self.spatial, self.channels]
        return {"sepc": 1, "name": "layer", "inputs": {"x": {"shape": shape, "dtype": "float32"}},
                "weights": "weights.npz", "layers": layers, "outputs": ["y"]}


def divisible(value: float, divisor: int = 8) -> int:
    """Keras' _make_divisible: the nearest multiple of 8, never 10% below the value."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def inverted_residuals(blocks, resolution: int, stem: int, act: str, head: int | None,
                       classes: int = 1000):
    """(expand ratio, kernel, out channels, stride) blocks after a stride-2 stem: MobileNetV2,
    V3, EfficientNet, MnasNet."""
    size = math.ceil(resolution / 2)
    yield Shape("stem", (resolution, resolution), 3, stem, 3, 2, act)
    channels = stem
    for expand, kernel, out, stride in blocks:
        wide = divisible(channels * expand) if expand != 1 else channels
        if expand != 1:
            yield Shape("pointwise", (size, size), channels, wide, activation=act)
        yield Shape("pair", (size, size), wide, out, kernel, stride, act)
        size = math.ceil(size / stride)
        channels = out
    if head:
        yield Shape("pointwise", (size, size), channels, head, activation=act)
        yield Shape("dense", (), head, classes, activation="linear")


def repeat(stages):
    """(expand, kernel, out, stride, repeats) stages -> one block per repeat."""
    for expand, kernel, out, stride, count in stages:
        for i in range(count):
            yield expand, kernel, out, stride if i == 0 else 1


def mobilenet_v1(alpha: float, resolution: int):
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5,
              (1024, 2), (1024, 1)]
    size = math.ceil(resolution / 2)
    channels = int(32 * alpha)
    yield Shape("stem", (resolution, resolution), 3, channels, 3, 2)
    for filters, stride in blocks:
        out = int(filters * alpha)
        yield Shape("pair", (size, size), channels, out, 3, stride)
        size, channels = math.ceil(size / stride), out
    yield Shape("dense", (), channels, 1000, activation="linear")


def mobilenet_v2(alpha: float, resolution: int):
    stages = [(1, 3, 16, 1, 1), (6, 3, 24, 2, 2), (6, 3, 32, 2, 3), (6, 3, 64, 2, 4),
              (6, 3, 96, 1, 3), (6, 3, 160, 2, 3), (6, 3, 320, 1, 1)]
    blocks = [(e, k, divisible(c * alpha), s) for e, k, c, s in repeat(stages)]
    head = 1280 if alpha <= 1.0 else divisible(1280 * alpha)
    yield from inverted_residuals(blocks, resolution, divisible(32 * alpha), "relu6", head)


# (kernel, expanded, out, activation, stride) of MobileNetV3 (Howard et al., tables 1, 2)
V3_LARGE = [(3, 16, 16, "relu", 1), (3, 64, 24, "relu", 2), (3, 72, 24, "relu", 1),
            (5, 72, 40, "relu", 2), (5, 120, 40, "relu", 1), (5, 120, 40, "relu", 1),
            (3, 240, 80, "hard_swish", 2), (3, 200, 80, "hard_swish", 1),
            (3, 184, 80, "hard_swish", 1), (3, 184, 80, "hard_swish", 1),
            (3, 480, 112, "hard_swish", 1), (3, 672, 112, "hard_swish", 1),
            (5, 672, 160, "hard_swish", 2), (5, 960, 160, "hard_swish", 1),
            (5, 960, 160, "hard_swish", 1)]
V3_SMALL = [(3, 16, 16, "relu", 2), (3, 72, 24, "relu", 2), (3, 88, 24, "relu", 1),
            (5, 96, 40, "hard_swish", 2), (5, 240, 40, "hard_swish", 1),
            (5, 240, 40, "hard_swish", 1), (5, 120, 48, "hard_swish", 1),
            (5, 144, 48, "hard_swish", 1), (5, 288, 96, "hard_swish", 2),
            (5, 576, 96, "hard_swish", 1), (5, 576, 96, "hard_swish", 1)]


def mobilenet_v3(table, alpha: float, resolution: int, head: int):
    size = math.ceil(resolution / 2)
    yield Shape("stem", (resolution, resolution), 3, 16, 3, 2, "hard_swish")
    channels = 16
    for kernel, expanded, out, act, stride in table:
        wide, out = divisible(expanded * alpha), divisible(out * alpha)
        if wide != channels:
            yield Shape("pointwise", (size, size), channels, wide, activation=act)
        yield Shape("pair", (size, size), wide, out, kernel, stride, act)
        size, channels = math.ceil(size / stride), out
    last = divisible(channels * 6)
    yield Shape("pointwise", (size, size), channels, last, activation="hard_swish")
    yield Shape("dense", (), last, head, activation="linear")
    yield Shape("dense", (), head, 1000, activation="linear")


def efficientnet(act: str, resolution: int):
    """EfficientNet-B0 (swish; squeeze-excite is not part of these shapes) and -Lite0 (relu6)."""
    stages = [(1, 3, 16, 1, 1), (6, 3, 24, 2, 2), (6, 5, 40, 2, 2), (6, 3, 80, 2, 3),
              (6, 5, 112, 1, 3), (6, 5, 192, 2, 4), (6, 3, 320, 1, 1)]
    yield from inverted_residuals(list(repeat(stages)), resolution, 32, act, 1280)


def mnasnet(resolution: int):
    stages = [(1, 3, 16, 1, 1), (3, 3, 24, 2, 3), (3, 5, 40, 2, 3), (6, 5, 80, 2, 3),
              (6, 3, 96, 1, 2), (6, 5, 192, 2, 4), (6, 3, 320, 1, 1)]
    yield from inverted_residuals(list(repeat(stages)), resolution, 32, "relu", 1280)


def xception(resolution: int):
    """Separable convs (no activation between the halves, relu after) and the stride-2 1x1
    shortcuts of the entry and exit flows."""
    size = (math.ceil(resolution / 2) - 1) - 2       # stem 3x3 s2 valid, 3x3 valid
    yield Shape("stem", (resolution, resolution), 3, 32, 3, 2, "relu")
    for channels, filters in ((64, 128), (128, 256), (256, 728)):
        yield Shape("pair", (size, size), channels, filters, 3, 1, "relu")
        yield Shape("pair", (size, size), filters, filters, 3, 1, "relu")
        yield Shape("pointwise", (size, size), channels, filters, stride=2, activation="linear")
        size = math.ceil(size / 2)
    yield Shape("pair", (size, size), 728, 728, 3, 1, "relu")        # middle flow, 24 times
    yield Shape("pair", (size, size), 728, 1024, 3, 1, "relu")
    yield Shape("pointwise", (size, size), 728, 1024, stride=2, activation="linear")
    size = math.ceil(size / 2)
    yield Shape("pair", (size, size), 1024, 1536, 3, 1, "relu")
    yield Shape("pair", (size, size), 1536, 2048, 3, 1, "relu")
    yield Shape("dense", (), 2048, 1000, activation="linear")


def ds_cnn(channels: int, stride: tuple, blocks: int):
    """Hello Edge's DS-CNN keyword spotters (49x10 MFCC input, 12 classes)."""
    h, w = math.ceil(49 / stride[0]), math.ceil(10 / stride[1])
    # (its 10x4 stem conv is not a square-kernel Shape: the network suite has it)
    for _ in range(blocks):
        yield Shape("pair", (h, w), channels, channels, 3, 1, "relu")
    yield Shape("dense", (), channels, 12, activation="linear")


def kws_1d(length: int, channels: int):
    """A 1-D separable keyword spotter (MatchboxNet-like: time x MFCC channels)."""
    for kernel in (9, 13, 15, 17):
        yield Shape("pair1d", (length,), channels, channels, kernel, 1, "relu")
    yield Shape("pair1d", (length,), channels, 2 * channels, 29, 1, "relu")
    yield Shape("pair1d", (2 * length,), channels, channels, 11, 2, "relu")


NETWORKS = {
    **{f"mobilenet_v1_{a}_{r}": (lambda a=a, r=r: mobilenet_v1(a, r))
       for a in (1.0, 0.75, 0.5, 0.25) for r in (224, 160, 128)},
    **{f"mobilenet_v2_{a}_{r}": (lambda a=a, r=r: mobilenet_v2(a, r))
       for a in (1.4, 1.0, 0.75, 0.5, 0.35) for r in (224, 160, 96)},
    **{f"mobilenet_v3_large_{a}_{r}": (lambda a=a, r=r: mobilenet_v3(V3_LARGE, a, r, 1280))
       for a in (1.0, 0.75) for r in (224, 160)},
    **{f"mobilenet_v3_small_{a}_{r}": (lambda a=a, r=r: mobilenet_v3(V3_SMALL, a, r, 1024))
       for a in (1.0, 0.75) for r in (224, 160)},
    "efficientnet_b0": lambda: efficientnet("swish", 224),
    "efficientnet_lite0": lambda: efficientnet("relu6", 224),
    "mnasnet_224": lambda: mnasnet(224),
    "xception_299": lambda: xception(299),
    "xception_150": lambda: xception(150),
    "ds_cnn_s": lambda: ds_cnn(64, (2, 2), 4),
    "ds_cnn_m": lambda: ds_cnn(172, (2, 2), 4),
    "ds_cnn_l": lambda: ds_cnn(276, (2, 1), 5),
    "kws_1d_64": lambda: kws_1d(64, 64),
    "kws_1d_128": lambda: kws_1d(98, 128),
}


def all_shapes() -> dict[Shape, list[str]]:
    """Every distinct shape -> the networks it occurs in."""
    found: dict[Shape, list[str]] = {}
    for network, layers in NETWORKS.items():
        for shape in layers():
            found.setdefault(shape, []).append(network)
    return found


def sample(count: int, seed: int = 0) -> list[Shape]:
    """`count` distinct shapes, drawn with `seed`, stratified so every network keeps at least
    one of its shapes; in a fixed order (by kind, then size)."""
    shapes = all_shapes()
    rng = random.Random(seed)
    chosen: set[Shape] = set()
    for network in NETWORKS:
        own = sorted((s for s, nets in shapes.items() if network in nets), key=lambda s: s.name)
        chosen.add(rng.choice(own))
    rest = sorted((s for s in shapes if s not in chosen), key=lambda s: s.name)
    chosen.update(rng.sample(rest, max(0, min(count - len(chosen), len(rest)))))
    return sorted(chosen, key=lambda s: (s.kind, s.flops, s.name))
