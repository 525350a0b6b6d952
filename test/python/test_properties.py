"""Property tests: random geometries for every sliding-window op, compiled by sepc and
checked against the float64 reference.

SEPC_HYPOTHESIS_EXAMPLES (default 15) sets how many models each test compiles; examples
are derandomized so CI failures reproduce exactly. Run:
    SEPC_HYPOTHESIS_EXAMPLES=100 pytest test/python/test_properties.py
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import assert_matches_reference, make_model

PROPERTY_SETTINGS = settings(
    deadline=None,  # every example compiles a library: seconds, not milliseconds
    max_examples=int(os.environ.get("SEPC_HYPOTHESIS_EXAMPLES", "15")),
    derandomize=True,
)

ACTIVATIONS = ["linear", "relu", "relu6", "hard_swish", "sigmoid", "tanh", "softmax",
               "hard_sigmoid", "swish", "silu"]
MAX_SPATIAL = 20


@st.composite
def window_geometry(draw, rank, max_kernel=5, allow_dilation=True,
                    padding_kinds=("valid", "same", "explicit")):
    """Kernel, strides, dilation, padding and a spatial input size that leaves an output >= 1."""
    kernel = [draw(st.integers(1, max_kernel)) for _ in range(rank)]
    strides = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilation = [draw(st.integers(1, 3)) if allow_dilation else 1 for _ in range(rank)]
    kind = draw(st.sampled_from(padding_kinds))
    if kind == "explicit":
        padding = [[draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))] for k in kernel]
        pairs = padding
    else:
        padding = kind
        pairs = [[0, 0]] * rank
    sizes = []
    for k, d, (before, after) in zip(kernel, dilation, pairs, strict=True):
        # `same` fits any size (its output is ceil(in / stride)); the others need the
        # dilated kernel to fit inside the padded input.
        smallest = 1 if kind == "same" else max(1, (k - 1) * d + 1 - before - after)
        assume(smallest <= MAX_SPATIAL)
        sizes.append(draw(st.integers(smallest, min(smallest + 10, MAX_SPATIAL))))
    return {"kernel_size": kernel if rank > 1 else kernel[0], "strides": strides,
            "dilation_rate": dilation, "padding": padding}, sizes


def channels():
    return st.integers(1, 24)


@st.composite
def conv_model(draw, op, rank):
    geometry, sizes = draw(window_geometry(rank))
    batch = draw(st.integers(1, 2))
    attrs = dict(geometry, use_bias=draw(st.booleans()),
                 activation=draw(st.sampled_from(ACTIVATIONS)))
    if op.startswith(("depthwise", "separable")):
        attrs["depth_multiplier"] = draw(st.integers(1, 3))
    if op.startswith(("conv", "separable")):
        attrs["filters"] = draw(channels())
    shape = [batch, *sizes, draw(channels())]
    return make_model(f"prop_{op}", {"x": shape}, [{"name": "y", "op": op, "input": "x", **attrs}])


@st.composite
def pooling_model(draw, op):
    # Explicit padding of at most pool-1 per side (window_geometry's range) keeps a real
    # element in every window, so max and average stay defined.
    geometry, sizes = draw(window_geometry(2, max_kernel=4, allow_dilation=False))
    attrs = {"pool_size": geometry["kernel_size"], "strides": geometry["strides"],
             "padding": geometry["padding"]}
    shape = [draw(st.integers(1, 2)), *sizes, draw(channels())]
    return make_model(f"prop_{op}", {"x": shape}, [{"name": "y", "op": op, "input": "x", **attrs}])


@st.composite
def dense_model(draw):
    rank = draw(st.integers(2, 4))
    shape = [draw(st.integers(1, 2))] + [draw(st.integers(1, 6)) for _ in range(rank - 2)]
    shape.append(draw(st.integers(1, 40)))
    attrs = {"units": draw(st.integers(1, 24)), "use_bias": draw(st.booleans()),
             "activation": draw(st.sampled_from(ACTIVATIONS))}
    return make_model("prop_dense", {"x": shape},
                      [{"name": "y", "op": "dense", "input": "x", **attrs}])


def check_in_fresh_folder(model, target):
    # Hypothesis reruns the test body per example, so pytest's tmp_path would be shared.
    with tempfile.TemporaryDirectory(prefix="sepc_prop_") as folder:
        assert_matches_reference(model, Path(folder), target)


@PROPERTY_SETTINGS
@given(model=conv_model("depthwise_conv2d", 2))
def test_depthwise_conv2d(model, target):
    check_in_fresh_folder(model, target)


@PROPERTY_SETTINGS
@given(model=conv_model("separable_conv2d", 2))
def test_separable_conv2d(model, target):
    check_in_fresh_folder(model, target)


@PROPERTY_SETTINGS
@given(model=conv_model("conv2d", 2))
def test_conv2d(model, target):
    check_in_fresh_folder(model, target)


@PROPERTY_SETTINGS
@given(model=conv_model("depthwise_conv1d", 1))
def test_depthwise_conv1d(model, target):
    check_in_fresh_folder(model, target)


@PROPERTY_SETTINGS
@given(model=conv_model("separable_conv1d", 1))
def test_separable_conv1d(model, target):
    check_in_fresh_folder(model, target)


@PROPERTY_SETTINGS
@given(model=pooling_model("max_pooling2d"))
def test_max_pooling2d(model, target):
    check_in_fresh_folder(model, target)


@PROPERTY_SETTINGS
@given(model=pooling_model("average_pooling2d"))
def test_average_pooling2d(model, target):
    check_in_fresh_folder(model, target)


@PROPERTY_SETTINGS
@given(model=dense_model())
def test_dense(model, target):
    check_in_fresh_folder(model, target)
