"""Writes fold_small.npz (for fold_small.json) to the path given: small exact values whose
folded kernels and biases are easy to state (see fold-batch-norm-values.test)."""
import sys

import numpy as np

f32 = lambda *values: np.array(values, np.float32)  # noqa: E731
params = {
    "c/kernel": f32(1.0, 4.0).reshape(1, 1, 1, 2),
    "c/bias": f32(0.5, -1.0),
    "bn_c/gamma": f32(2.0, 1.5), "bn_c/beta": f32(1.0, 0.0),
    "bn_c/moving_mean": f32(0.5, 1.0), "bn_c/moving_variance": f32(3.0, 8.0),
    "dw/depthwise_kernel": np.ones((1, 1, 2, 2), np.float32),
    "bn_dw/gamma": f32(1.0, 2.0, 3.0, 4.0), "bn_dw/beta": f32(0.0, 0.0, 0.0, 0.5),
    "bn_dw/moving_mean": f32(0.0, 0.0, 0.0, 0.25), "bn_dw/moving_variance": f32(0.5, 0.5, 0.5, 0.5),
    "fc/kernel": f32(1.0, 2.0, 3.0, 4.0).reshape(2, 2),
    "fc/bias": f32(1.0, 1.0),
    "bn_fc/gamma": f32(0.5, 2.0), "bn_fc/beta": f32(0.0, -2.0),
    "bn_fc/moving_mean": f32(0.0, 1.0), "bn_fc/moving_variance": f32(0.75, 0.75),
}
np.savez(sys.argv[1], **params)
