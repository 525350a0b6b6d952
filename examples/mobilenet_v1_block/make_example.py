#!/usr/bin/env python3
r"""Regenerate the shipped example: one MobileNetV1 block on a 1x32x32x16 input
(depthwise 3x3 + batch norm + relu6, pointwise 16->32 + batch norm + relu6).

Writes model.json, weights.npz and input.x.npy beside this script, deterministically
(seed 0), small enough to commit. Then:

    sepc compile examples/mobilenet_v1_block/model.json --target host -o build
    sepc run build/mobilenet_v1_block.json \
        --input x=examples/mobilenet_v1_block/input.x.npy --output-dir out
"""
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
HEIGHT = WIDTH = 32
CHANNELS, FILTERS = 16, 32

MODEL = {
    "sepc": 1,
    "name": "mobilenet_v1_block",
    "inputs": {"x": {"shape": [1, HEIGHT, WIDTH, CHANNELS], "dtype": "float32"}},
    "weights": "weights.npz",
    "layers": [
        {"name": "dw", "op": "depthwise_conv2d", "input": "x", "kernel_size": [3, 3],
         "strides": [1, 1], "padding": "same", "depth_multiplier": 1, "use_bias": False},
        {"name": "dw_bn", "op": "batch_norm", "input": "dw", "epsilon": 0.001,
         "activation": "relu6"},
        {"name": "pw", "op": "conv2d", "input": "dw_bn", "filters": FILTERS, "kernel_size": [1, 1],
         "use_bias": False},
        {"name": "pw_bn", "op": "batch_norm", "input": "pw", "epsilon": 0.001,
         "activation": "relu6"},
    ],
    "outputs": ["pw_bn"],
}


def batch_norm_parameters(rng, name, channels):
    return {
        f"{name}/gamma": rng.uniform(0.5, 1.5, channels),
        f"{name}/beta": 0.1 * rng.standard_normal(channels),
        f"{name}/moving_mean": 0.1 * rng.standard_normal(channels),
        f"{name}/moving_variance": rng.uniform(0.5, 1.5, channels),
    }


def main():
    rng = np.random.default_rng(0)
    weights = {
        # Variance 1/fan-in keeps activations O(1), so relu6 clips some values but not all.
        "dw/depthwise_kernel": rng.standard_normal((3, 3, CHANNELS, 1)) / 3.0,
        **batch_norm_parameters(rng, "dw_bn", CHANNELS),
        "pw/kernel": rng.standard_normal((1, 1, CHANNELS, FILTERS)) / np.sqrt(CHANNELS),
        **batch_norm_parameters(rng, "pw_bn", FILTERS),
    }
    (HERE / "model.json").write_text(json.dumps(MODEL, indent=2) + "\n")
    np.savez(HERE / "weights.npz", **{k: v.astype(np.float32) for k, v in weights.items()})
    x = rng.standard_normal((1, HEIGHT, WIDTH, CHANNELS)).astype(np.float32)
    np.save(HERE / "input.x.npy", x)


if __name__ == "__main__":
    main()
