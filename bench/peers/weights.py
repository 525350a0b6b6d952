"""Seeded random parameters for any model.json (the benchmarks' cases): He-scaled kernels,
small biases, batch norms near identity, so activations stay in range through deep stacks
and ReLU6/hard-swish corners are exercised."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "test" / "python"))
from reference import parameter_shapes  # noqa: E402


def random_weights(model: dict, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = {}
    for key, shape in parameter_shapes(model).items():
        kind = key.rsplit("/", 1)[1]
        if kind == "depthwise_kernel":
            value = rng.standard_normal(shape) * math.sqrt(2.0 / math.prod(shape[:-2]))
        elif kind in ("kernel", "pointwise_kernel"):
            value = rng.standard_normal(shape) * math.sqrt(2.0 / math.prod(shape[:-1]))
        elif kind in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:                                  # bias, beta, moving_mean
            value = 0.1 * rng.standard_normal(shape)
        weights[key] = value.astype(np.float32)
    return weights
