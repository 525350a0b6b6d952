"""The layers of channels-first frameworks (ONNX, PyTorch) as model.json layers.

Values stay channels-last in the model: an NCHW input (N, C, H, W) becomes (N, H, W, C) and
every weight is transposed to the layout model.json names (spec/model-json.md). Explicit,
possibly asymmetric, padding maps to explicit [before, after] pairs."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .builder import ModelBuilder

Pairs = Sequence[Sequence[int]]   # [before, after] per spatial dimension


def nhwc(shape: Sequence[int | None]) -> list[int]:
    dims = [1 if (d is None or d <= 0) else int(d) for d in shape]
    return [dims[0], *dims[2:], dims[1]] if len(dims) >= 3 else dims


def nchw(shape: Sequence[int]) -> list[int]:
    """A channels-last shape in the framework's channels-first order (for messages)."""
    return [shape[0], shape[-1], *shape[1:-1]] if len(shape) >= 3 else list(shape)


def spatially_one(shape: Sequence[int], full: Sequence[int]) -> bool:
    """`full` (channels last) with every spatial dimension 1: a per-channel factor."""
    return (len(shape) == len(full) >= 3 and shape[0] == full[0] and shape[-1] == full[-1]
            and all(d == 1 for d in shape[1:-1]))


def channel_constant(value: np.ndarray, rank: int, channels: int) -> float | list[float] | None:
    """A constant that an NC.. tensor of `rank` is scaled or shifted by: a number, or one
    per channel (shape (C, 1..) or (1, C, 1..)); None for any other."""
    array = np.asarray(value, dtype=np.float64)
    if array.size == 1:
        return float(array.reshape(-1)[0])
    shape = [1] * (rank - array.ndim) + list(array.shape)
    if array.ndim > rank or shape != [1, channels] + [1] * (rank - 2):
        return None
    return [float(v) for v in array.reshape(-1)]


def conv_out(size: int, kernel: int, stride: int, before: int, after: int, dilation: int) -> int:
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


class ChannelsFirst:
    """Adds NCHW-framework layers to a ModelBuilder; `problem` records what cannot be."""

    def __init__(self, builder: ModelBuilder):
        self.b = builder
        # What problems name the framework node by, where it is not the value's name (an
        # ONNX node's name, not its output's); None: the value's name.
        self.label: str | None = None

    def problem(self, name: str, kind: str, reason: str) -> None:
        self.b.problem(self.label or name, kind, reason)

    def conv(self, name: str, x: str, weight: np.ndarray, bias: np.ndarray | None,
             strides: Sequence[int], pads: Pairs, dilations: Sequence[int], groups: int,
             kind: str) -> None:
        """weight (F, C/groups, K...); pads: [[before, after]] per spatial dim."""
        b = self.b
        shape = b.shape(x)
        rank = len(shape) - 2
        channels, filters = shape[-1], weight.shape[0]
        kernel = list(weight.shape[2:])
        if rank not in (1, 2) or len(kernel) != rank:
            self.problem(name, kind, f"{rank}-D convolution is not supported (1-D and 2-D are)")
            return
        out = [shape[0]] + [conv_out(shape[1 + d], kernel[d], strides[d], pads[d][0], pads[d][1],
                                     dilations[d]) for d in range(rank)]
        padding = "valid" if not any(p for pair in pads for p in pair) else [list(p) for p in pads]
        common = {"kernel_size": kernel, "strides": list(strides), "dilation_rate": list(dilations),
                  "padding": padding, "use_bias": bias is not None}
        spatial_first = tuple(range(2, 2 + rank))
        if groups == 1:
            params = {"kernel": weight.transpose(*spatial_first, 1, 0)}
            op = "conv2d" if rank == 2 else "conv1d"
            b.add(name, op, x, out + [filters], params | self._bias(bias), filters=filters,
                  **common)
        elif groups == channels and filters % channels == 0:
            multiplier = filters // channels
            # Output channel c*M + m of a grouped conv is depthwise channel c, multiplier m.
            w = weight.reshape(channels, multiplier, *kernel).transpose(*spatial_first, 0, 1)
            op = "depthwise_conv2d" if rank == 2 else "depthwise_conv1d"
            b.add(name, op, x, out + [filters], {"depthwise_kernel": w} | self._bias(bias),
                  depth_multiplier=multiplier, **common)
        else:
            self.problem(name, kind, f"groups={groups} with {channels} input channels (only 1 or "
                                  f"one group per channel is supported)")

    @staticmethod
    def _bias(bias: np.ndarray | None) -> dict[str, np.ndarray]:
        return {} if bias is None else {"bias": bias}

    def batch_norm(self, name: str, x: str, scale: np.ndarray, offset: np.ndarray,
                   mean: np.ndarray, variance: np.ndarray, epsilon: float) -> None:
        self.b.add(name, "batch_norm", x, self.b.shape(x),
                   {"gamma": scale, "beta": offset,
                    "moving_mean": mean, "moving_variance": variance},
                   epsilon=float(epsilon))

    def activation(self, name: str, x: str, activation: str) -> None:
        self.b.add(name, "activation", x, self.b.shape(x), activation=activation)

    def add(self, name: str, xs: list[str], kind: str) -> None:
        shapes = [self.b.shape(x) for x in xs]
        if any(s != shapes[0] for s in shapes):
            self.problem(name, kind,
                           f"adds tensors of different shapes {shapes} (no broadcasting)")
            return
        self.b.add(name, "add", xs, shapes[0])

    def multiply(self, name: str, xs: list[str], kind: str) -> None:
        """x * y: x * sigmoid(x) and x * hard_sigmoid(x) are the activations swish and
        hard_swish (the gate layer they leave unread is not written); otherwise one shape,
        or (N, 1.., C) factors broadcast over the spatial axes."""
        b = self.b
        shapes = [b.shape(x) for x in xs]
        if len(xs) == 2:
            for x, gate in (xs, xs[::-1]):
                layer = b.layer_of(gate)
                for activation, product in (("sigmoid", "swish"), ("hard_sigmoid", "hard_swish")):
                    if (layer is not None and layer["op"] == "activation"
                            and layer.get("activation") == activation
                            and layer["input"] == b.value(x)):
                        self.activation(name, x, product)
                        return
        full = max(shapes, key=lambda shape: int(np.prod(shape)))
        if not all(shape == full or spatially_one(shape, full) for shape in shapes):
            self.problem(name, kind, f"multiplies shapes {[nchw(s) for s in shapes]} (only one "
                                  "shape, or (N, C, 1..) factors)")
            return
        b.add(name, "multiply", xs, full)

    def rescale(self, name: str, x: str, scale: float | list[float],
                offset: float | list[float]) -> None:
        """x * scale + offset, each a number or one per channel."""
        self.b.add(name, "rescaling", x, self.b.shape(x), scale=scale, offset=offset)

    def concatenate(self, name: str, xs: list[str], axis: int, kind: str) -> None:
        """Along the channels: axis 1 of the framework's NC.. layout (or its negative)."""
        shapes = [self.b.shape(x) for x in xs]
        rank = len(shapes[0])
        if axis % rank != 1 or any(s[:-1] != shapes[0][:-1] for s in shapes):
            self.problem(name, kind, f"axis {axis} of shapes {[nchw(s) for s in shapes]} "
                                       "(only the channel axis, 1)")
            return
        self.b.add(name, "concatenate", xs, shapes[0][:-1] + [sum(s[-1] for s in shapes)])

    def global_average_pool(self, name: str, x: str, keepdims: bool) -> None:
        shape = self.b.shape(x)
        out = [shape[0]] + ([1] * (len(shape) - 2) if keepdims else []) + [shape[-1]]
        op = "global_average_pooling2d" if len(shape) == 4 else "global_average_pooling1d"
        self.b.add(name, op, x, out, keepdims=keepdims)

    def flatten(self, name: str, x: str, kind: str) -> None:
        shape = self.b.shape(x)
        if all(d == 1 for d in shape[1:-1]):
            if len(shape) == 2:
                self.b.alias(name, x)
            else:
                self.b.add(name, "reshape", x, [shape[0], shape[-1]], target_shape=[shape[-1]])
        else:
            self.problem(name, kind, f"flattens a {shape[1:-1]} spatial tensor: its "
                                       "channels-first element order has no channels-last "
                                       "equivalent")

    def dense(self, name: str, x: str, weight_in_out: np.ndarray, bias: np.ndarray | None) -> None:
        shape = self.b.shape(x)
        units = weight_in_out.shape[1]
        self.b.add(name, "dense", x, shape[:-1] + [units],
                   {"kernel": weight_in_out} | self._bias(bias), units=units,
                   use_bias=bias is not None)

    def zero_pad(self, name: str, x: str, pairs: Pairs, kind: str) -> None:
        """pairs: [[before, after]] for H and W."""
        shape = self.b.shape(x)
        if len(shape) != 4 or any(p < 0 for pair in pairs for p in pair):
            self.problem(name, kind, "only non-negative padding of the two spatial dims")
            return
        out = [shape[0], shape[1] + sum(pairs[0]), shape[2] + sum(pairs[1]), shape[3]]
        self.b.add(name, "zero_padding2d", x, out, padding=[list(p) for p in pairs])

    def pool(self, name: str, x: str, op: str, kernel: Sequence[int], strides: Sequence[int],
             pads: Pairs, kind: str) -> None:
        shape = self.b.shape(x)
        if len(shape) != 4 or any(p for pair in pads for p in pair):
            self.problem(name, kind, "only unpadded 2-D pooling is supported")
            return
        out = ([shape[0]] + [conv_out(shape[1 + d], kernel[d], strides[d], 0, 0, 1)
                             for d in range(2)] + [shape[-1]])
        self.b.add(name, op, x, out, pool_size=list(kernel), strides=list(strides), padding="valid")
