"""The validated model: what the front end hands to the `sep` dialect emitter.

Everything here is already checked and normalised: shapes are known for every layer,
per-dimension attributes are tuples with one entry per spatial dimension, and padding is
resolved to explicit (before, after) pairs so later stages never re-derive Keras rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


@dataclass
class Layer:
    """One layer of model.json after validation.

    attrs holds the normalised attributes of the op (see model-json.md), e.g. for
    depthwise_conv2d: kernel_size=(3, 3), strides=(1, 1), dilation_rate=(1, 1),
    padding=((1, 1), (1, 1)), depth_multiplier=1, use_bias=True, activation="relu6".
    Pooling layers also keep padding as explicit pairs. params maps the short parameter
    name ("kernel", "bias", "depthwise_kernel", "pointwise_kernel", "gamma", "beta",
    "moving_mean", "moving_variance") to a float32 array; a layer with use_bias=False has
    no "bias" entry.
    """
    index: int
    name: str
    op: str
    inputs: list[str]
    attrs: dict[str, Any]
    out_shape: tuple[int, ...]
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Graph:
    name: str
    inputs: list[TensorSpec]
    layers: list[Layer]
    outputs: list[str]
    source: str = "<memory>"

    def shape_of(self, value: str) -> tuple[int, ...]:
        for spec in self.inputs:
            if spec.name == value:
                return spec.shape
        for layer in self.layers:
            if layer.name == value:
                return layer.out_shape
        raise KeyError(value)
