"""The fused depthwise + pointwise blocks of bench/separable_blocks.py.

Each block is dw KxK (or K for 1-D) 'same' + bias + relu6, then pw 1x1 C->F + bias + relu6,
fp32, batch 1, channels last. Weights are a deterministic function of the block's name, so
the .tflite files made by peers/make_tflite.py carry exactly the weights the benchmark checks.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Block:
    name: str
    spatial: tuple          # (H, W) or (L,)
    channels: int
    filters: int
    kernel: int
    stride: int

    @property
    def rank(self):
        return len(self.spatial)

    @property
    def out_spatial(self):
        return tuple(math.ceil(size / self.stride) for size in self.spatial)

    @property
    def in_shape(self):
        return (1,) + self.spatial + (self.channels,)

    @property
    def out_shape(self):
        return (1,) + self.out_spatial + (self.filters,)

    @property
    def pads(self):
        """Keras 'same' padding, one (before, after) pair per spatial dim."""
        pairs = []
        for size, out in zip(self.spatial, self.out_spatial):
            total = max((out - 1) * self.stride + self.kernel - size, 0)
            pairs.append((total // 2, total - total // 2))
        return pairs

    @property
    def flops(self):
        """2 * MACs of both convolutions (bias and relu6 not counted)."""
        pixels = math.prod(self.out_spatial)
        return 2 * pixels * self.channels * (self.kernel ** self.rank + self.filters)

    @property
    def min_bytes(self):
        """Compulsory traffic: input + all parameters + output, fp32."""
        params = (self.kernel ** self.rank) * self.channels + self.channels \
            + self.channels * self.filters + self.filters
        return 4 * (math.prod(self.in_shape) + params + math.prod(self.out_shape))

    @property
    def intensity(self):
        return self.flops / self.min_bytes

    def describe(self):
        shape = "x".join(str(s) for s in self.spatial + (self.channels,))
        k = f"{self.kernel}x{self.kernel}" if self.rank == 2 else f"k{self.kernel}"
        return f"{shape} dw{k} s{self.stride} pw {self.channels}->{self.filters}"

    def model(self, name=None):
        """model.json (shared/spec/model-json.md) of the block."""
        suffix = "2d" if self.rank == 2 else "1d"
        kernel = [self.kernel] * self.rank
        return {
            "sepc": 1,
            "name": name or f"sep_block_{self.name.lower()}",
            "inputs": {"x": {"shape": list(self.in_shape), "dtype": "float32"}},
            "weights": "weights.npz",
            "layers": [
                {"name": "dw", "op": f"depthwise_conv{suffix}", "input": "x", "kernel_size": kernel,
                 "strides": [self.stride] * self.rank, "padding": "same", "depth_multiplier": 1,
                 "use_bias": True, "activation": "relu6"},
                {"name": "pw", "op": f"conv{suffix}", "input": "dw", "filters": self.filters,
                 "kernel_size": [1] * self.rank, "use_bias": True, "activation": "relu6"},
            ],
            "outputs": ["pw"],
        }

    def weights(self):
        """Model-json layout: dw (K.., C, 1), pw (1.., C, F)."""
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        taps = self.kernel ** self.rank
        k = (self.kernel,) * self.rank
        one = (1,) * self.rank
        return {
            "dw/depthwise_kernel": (rng.standard_normal(k + (self.channels, 1)) / math.sqrt(taps)).astype(np.float32),
            "dw/bias": (0.1 * rng.standard_normal(self.channels)).astype(np.float32),
            "pw/kernel": (rng.standard_normal(one + (self.channels, self.filters))
                          / math.sqrt(self.channels)).astype(np.float32),
            "pw/bias": (0.1 * rng.standard_normal(self.filters)).astype(np.float32),
        }

    def input(self):
        rng = np.random.default_rng(zlib.crc32(self.name.encode()) + 1)
        return rng.standard_normal(self.in_shape).astype(np.float32)


BLOCKS = {b.name: b for b in (
    Block("A", (112, 112), 32, 64, 3, 1),
    Block("B", (112, 112), 64, 128, 3, 2),
    Block("C", (56, 56), 128, 128, 3, 1),
    Block("D", (28, 28), 256, 256, 3, 1),
    Block("E", (14, 14), 512, 512, 3, 1),
    Block("F", (7, 7), 1024, 1024, 3, 1),
    Block("K1D", (16000,), 64, 64, 9, 1),
)}
