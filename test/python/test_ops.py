"""Golden tests: every op and option of model.json v1, compiled by sepc and checked against
the float64 reference interpreter, plus the checks that keep the reference itself honest.

Run: pytest test/python/test_ops.py [--sepc-targets host,x86-avx2]
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import (TOLERANCE, compile_and_run, make_model, random_inputs, random_weights,
                      scaled_error)
from golden_cases import REPO_CASES, REPO_CASES_ROOT, SHARED_CASES
from reference import run_reference

# The repository's goldens were written by this reference (test/golden/generate.py), so they
# must come out bit for bit; the shared ones come from an independent float64 implementation.
GOLDEN_CASES = ([pytest.param(case, True, id=f"repo-{case.name}") for case in REPO_CASES]
                + [pytest.param(case, False, id=f"shared-{case.name}") for case in SHARED_CASES])

ACTIVATIONS = ["linear", "relu", "relu6", "hard_swish", "sigmoid", "tanh", "softmax",
               "hard_sigmoid", "swish", "silu"]


def layer(op, name, source, **attrs):
    """One layer dict; `source` is a name, or a list of names for `add`, `multiply` and
    `concatenate`."""
    link = {"inputs": source} if isinstance(source, list) else {"input": source}
    return {"name": name, "op": op, **link, **attrs}


def c_name(test_id: str) -> str:
    return "t_" + re.sub(r"\W", "_", test_id)


# ============================================================================ reference checks
# The compiler is judged by reference.py, so the reference is checked first: against the
# goldens (the shared ones, when present, from an independent float64 implementation), and
# by hand for what they do not cover.

@pytest.mark.parametrize("case, own", GOLDEN_CASES)
def test_reference_matches_conformance_golden(case, own):
    model = json.loads((case / "model.json").read_text())
    weights = dict(np.load(case / model["weights"])) if "weights" in model else {}
    inputs = {name: np.load(case / f"input.{name}.npy") for name in model["inputs"]}
    got = run_reference(model, weights, inputs)
    assert sorted(got) == sorted(model["outputs"])
    for name in model["outputs"]:
        want = np.load(case / f"expected.{name}.npy")
        assert want.dtype == np.float32 and got[name].shape == want.shape
        if own:
            # Any other bits mean the reference changed under the committed goldens (rerun
            # test/golden/generate.py and say why in the commit) or the files were edited.
            np.testing.assert_array_equal(got[name].astype(np.float32), want)
        else:
            # Stored as float32, so 1e-6 leaves room for their rounding only.
            want = want.astype(np.float64)
            np.testing.assert_allclose(got[name], want, rtol=1e-6,
                                       atol=1e-6 * np.abs(want).max())


def test_conformance_cases_exist():
    assert len(REPO_CASES) >= 13, f"golden cases not found under {REPO_CASES_ROOT}"


def _single_layer_reference(shape, spec, x, weights=None):
    model = make_model("m", {"x": shape}, [dict(spec, name="l", input="x")])
    return run_reference(model, weights or {}, {"x": x})["l"]


def test_reference_average_pooling_same_divides_by_real_elements():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    got = _single_layer_reference([1, 3, 3, 1], {"op": "average_pooling2d", "pool_size": 2,
                                                 "padding": "same"}, x)
    # Same padding with stride 2 on 3 pads one row/column after: windows of 4, 2, 2, 1.
    want = [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8.0]]
    np.testing.assert_allclose(got[0, :, :, 0], want)


def test_reference_max_pooling_never_picks_padding():
    x = -np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    got = _single_layer_reference([1, 3, 3, 1], {"op": "max_pooling2d", "pool_size": 2,
                                                 "padding": "same"}, x)
    np.testing.assert_allclose(got[0, :, :, 0], [[-1.0, -3.0], [-7.0, -9.0]])


def test_reference_depth_multiplier_channel_order_is_c_times_m_plus_m():
    x = np.array([2.0, 3.0]).reshape(1, 1, 1, 2)
    kernel = np.arange(6.0).reshape(1, 1, 2, 3)
    got = _single_layer_reference([1, 1, 1, 2], {"op": "depthwise_conv2d", "kernel_size": 1,
                                                 "depth_multiplier": 3, "use_bias": False},
                                  x, {"l/depthwise_kernel": kernel})
    np.testing.assert_allclose(got.ravel(), [0.0, 2.0, 4.0, 9.0, 12.0, 15.0])


@pytest.mark.parametrize("activation, inputs, want", [
    ("hard_swish", [-4.0, -1.0, 1.0, 4.0], [0.0, -1 / 3, 2 / 3, 4.0]),
    ("relu6", [-1.0, 3.0, 7.0], [0.0, 3.0, 6.0]),
    ("sigmoid", [0.0, -800.0, 800.0], [0.5, 0.0, 1.0]),
    ("softmax", [0.0, np.log(3.0)], [0.25, 0.75]),
])
def test_reference_activation_values(activation, inputs, want):
    x = np.array(inputs).reshape(1, -1)
    got = _single_layer_reference(list(x.shape), {"op": "activation", "activation": activation}, x)
    np.testing.assert_allclose(got.ravel(), want, atol=1e-12)


def _direct_conv1d(x, kernel, stride, dilation, pad_before):
    """Textbook loops:
    out[n, o, f] = sum_k,c x[n, o*stride + k*dilation - pad_before, c] * w[k, c, f]."""
    batch, width, channels = x.shape
    taps, _, filters = kernel.shape
    out_width = -(-width // stride)
    out = np.zeros((batch, out_width, filters))
    for n in range(batch):
        for o in range(out_width):
            for k in range(taps):
                i = o * stride + k * dilation - pad_before
                if 0 <= i < width:
                    out[n, o] += x[n, i] @ kernel[k]
    return out


def test_reference_conv1d_same_stride_dilation_matches_direct_loops():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 11, 3))
    kernel = rng.standard_normal((3, 3, 4))
    got = _single_layer_reference([2, 11, 3], {"op": "conv1d", "filters": 4, "kernel_size": 3,
                                               "strides": 2, "dilation_rate": 2, "padding": "same",
                                               "use_bias": False}, x, {"l/kernel": kernel})
    # out = ceil(11/2) = 6; total pad = 5*2 + 2*2 + 1 - 11 = 4 -> 2 before.
    np.testing.assert_allclose(got, _direct_conv1d(x, kernel, 2, 2, 2), atol=1e-12)


def test_reference_dense_on_rank4_applies_to_last_axis():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    kernel, bias = rng.standard_normal((5, 6)), rng.standard_normal(6)
    got = _single_layer_reference([2, 3, 4, 5], {"op": "dense", "units": 6}, x,
                                  {"l/kernel": kernel, "l/bias": bias})
    np.testing.assert_allclose(got, (x.reshape(-1, 5) @ kernel + bias).reshape(2, 3, 4, 6))


def test_reference_zero_padding2d_places_input_after_top_and_left():
    x = np.ones((1, 2, 2, 1))
    got = _single_layer_reference([1, 2, 2, 1], {"op": "zero_padding2d",
                                                 "padding": [[1, 2], [0, 3]]}, x)
    assert got.shape == (1, 5, 5, 1)
    assert got[0, 1:3, 0:2, 0].sum() == 4.0 and got.sum() == 4.0


# ============================================================================ single layers

SINGLE_LAYER_CASES = {
    # depthwise_conv2d
    "dw_k3_s1_same_c8": ([1, 16, 16, 8], dict(op="depthwise_conv2d", kernel_size=3,
                                              padding="same")),
    "dw_k3_s2_same_odd_c5": ([1, 15, 15, 5], dict(op="depthwise_conv2d", kernel_size=3, strides=2,
                                                  padding="same")),
    "dw_k3_s2_same_even_c24": ([1, 16, 16, 24], dict(op="depthwise_conv2d", kernel_size=3,
                                                     strides=2, padding="same",
                                                     activation="relu6")),
    "dw_k3_s2_valid_c3": ([1, 13, 13, 3], dict(op="depthwise_conv2d", kernel_size=3, strides=2,
                                               padding="valid")),
    "dw_k5_same_c40": ([1, 9, 9, 40], dict(op="depthwise_conv2d", kernel_size=5, padding="same",
                                           activation="relu")),
    "dw_k3_dil2_same": ([1, 12, 12, 8], dict(op="depthwise_conv2d", kernel_size=3, dilation_rate=2,
                                             padding="same")),
    "dw_k3_dil2_valid_c5": ([1, 11, 11, 5], dict(op="depthwise_conv2d", kernel_size=3,
                                                 dilation_rate=[2, 2], padding="valid")),
    "dw_explicit_symmetric": ([1, 10, 10, 8], dict(op="depthwise_conv2d", kernel_size=3,
                                                   padding=[[1, 1], [1, 1]])),
    "dw_explicit_asymmetric_s2": ([1, 9, 11, 6], dict(op="depthwise_conv2d", kernel_size=3,
                                                      strides=2, padding=[[0, 2], [1, 0]])),
    "dw_rect_kernel_rect_stride": ([1, 9, 10, 8], dict(op="depthwise_conv2d", kernel_size=[1, 3],
                                                       strides=[2, 1], padding="same")),
    "dw_mult2": ([1, 8, 8, 4], dict(op="depthwise_conv2d", kernel_size=3, padding="same",
                                    depth_multiplier=2, activation="relu")),
    "dw_mult3_s2_c5": ([1, 7, 7, 5], dict(op="depthwise_conv2d", kernel_size=3, strides=2,
                                          padding="same", depth_multiplier=3)),
    "dw_mult2_dil2_valid": ([1, 10, 9, 3], dict(op="depthwise_conv2d", kernel_size=3,
                                                dilation_rate=2, depth_multiplier=2)),
    "dw_no_bias": ([1, 9, 9, 8], dict(op="depthwise_conv2d", kernel_size=3, padding="same",
                                      use_bias=False, activation="relu6")),
    "dw_defaults_only": ([1, 7, 9, 3], dict(op="depthwise_conv2d", kernel_size=3)),
    "dw_batch2": ([2, 9, 9, 8], dict(op="depthwise_conv2d", kernel_size=3, strides=2,
                                     padding="same", activation="relu6")),
    # conv2d
    "conv_stem_k3_s2_same_c3": ([1, 17, 17, 3], dict(op="conv2d", filters=16, kernel_size=3,
                                                     strides=2, padding="same", use_bias=False)),
    "conv_1x1_c24_to_40": ([1, 10, 10, 24], dict(op="conv2d", filters=40, kernel_size=1)),
    "conv_1x1_s2": ([1, 9, 9, 8], dict(op="conv2d", filters=12, kernel_size=1, strides=2)),
    "conv_k3_dil2_same_c5": ([1, 12, 12, 5], dict(op="conv2d", filters=7, kernel_size=3,
                                                  dilation_rate=2, padding="same")),
    "conv_explicit_asymmetric": ([1, 8, 8, 4], dict(op="conv2d", filters=6, kernel_size=3,
                                                    padding=[[2, 0], [0, 2]])),
    "conv_k5_valid_rect_input": ([1, 13, 11, 3], dict(op="conv2d", filters=8, kernel_size=5)),
    "conv_batch2": ([2, 7, 7, 6], dict(op="conv2d", filters=10, kernel_size=3, padding="same",
                                       activation="relu")),
    # separable_conv2d
    "sep_same_relu6_c16_to_24": ([1, 12, 12, 16], dict(op="separable_conv2d", filters=24,
                                                       kernel_size=3, padding="same",
                                                       activation="relu6")),
    "sep_mult2_s2_c5": ([1, 11, 11, 5], dict(op="separable_conv2d", filters=7, kernel_size=3,
                                             strides=2, padding="same", depth_multiplier=2)),
    "sep_mult3_dil2_valid": ([1, 14, 14, 4], dict(op="separable_conv2d", filters=9, kernel_size=3,
                                                  dilation_rate=2, depth_multiplier=3)),
    "sep_no_bias": ([1, 8, 8, 8], dict(op="separable_conv2d", filters=8, kernel_size=3,
                                       padding="same", use_bias=False)),
    "sep_explicit_s2": ([1, 10, 10, 6], dict(op="separable_conv2d", filters=12, kernel_size=3,
                                             strides=2, padding=[[1, 1], [1, 1]],
                                             activation="relu")),
    "sep_batch2_hard_swish": ([2, 9, 9, 6], dict(op="separable_conv2d", filters=5, kernel_size=3,
                                                 padding="same", activation="hard_swish")),
    # 1-D convolutions
    "conv1d_k3_same": ([1, 20, 5], dict(op="conv1d", filters=8, kernel_size=3, padding="same")),
    "conv1d_k5_s2_valid_c3": ([1, 19, 3], dict(op="conv1d", filters=16, kernel_size=5, strides=2)),
    "conv1d_dil2_same_batch2": ([2, 15, 6], dict(op="conv1d", filters=4, kernel_size=3,
                                                 dilation_rate=2, padding="same",
                                                 activation="tanh")),
    "dw1d_k9_same_c12": ([1, 20, 12], dict(op="depthwise_conv1d", kernel_size=9, padding="same")),
    "dw1d_s2_dil2_mult2_c5": ([1, 17, 5], dict(op="depthwise_conv1d", kernel_size=3, strides=2,
                                               dilation_rate=2, padding="same",
                                               depth_multiplier=2)),
    "dw1d_explicit_no_bias": ([1, 12, 8], dict(op="depthwise_conv1d", kernel_size=[3],
                                               padding=[[2, 1]], use_bias=False)),
    "sep1d_k9_same_relu": ([1, 20, 12], dict(op="separable_conv1d", filters=16, kernel_size=9,
                                             padding="same", activation="relu")),
    "sep1d_s2_mult2_no_bias_batch2": ([2, 15, 8], dict(op="separable_conv1d", filters=10,
                                                       kernel_size=3, strides=2, padding="same",
                                                       depth_multiplier=2, use_bias=False)),
    "sep1d_dil2_valid_c3": ([1, 18, 3], dict(op="separable_conv1d", filters=24, kernel_size=3,
                                             dilation_rate=2)),
    # batch_norm
    "bn_default_epsilon_c5": ([1, 7, 7, 5], dict(op="batch_norm")),
    "bn_relu6_batch2_c24": ([2, 5, 5, 24], dict(op="batch_norm", epsilon=1e-5, activation="relu6")),
    "bn_rank3": ([1, 9, 12], dict(op="batch_norm", activation="hard_swish")),
    # zero_padding2d
    "zero_padding2d_asymmetric": ([1, 5, 6, 3], dict(op="zero_padding2d",
                                                     padding=[[1, 2], [0, 3]])),
    # max_pooling2d
    "maxpool_2_valid_default_strides": ([1, 8, 8, 8], dict(op="max_pooling2d", pool_size=2)),
    "maxpool_3_s2_same_odd_c5": ([1, 15, 15, 5], dict(op="max_pooling2d", pool_size=3, strides=2,
                                                      padding="same")),
    "maxpool_2_s2_same_odd": ([1, 9, 9, 4], dict(op="max_pooling2d", pool_size=[2, 2],
                                                 strides=[2, 2], padding="same")),
    "maxpool_rect_valid": ([1, 9, 8, 3], dict(op="max_pooling2d", pool_size=[3, 2],
                                              strides=[2, 1])),
    "maxpool_batch2": ([2, 7, 7, 6], dict(op="max_pooling2d", pool_size=3, strides=1,
                                          padding="same")),
    "maxpool_explicit_asymmetric": ([1, 8, 9, 5], dict(op="max_pooling2d", pool_size=3, strides=2,
                                                       padding=[[1, 0], [2, 1]])),
    # average_pooling2d
    "avgpool_2_valid": ([1, 8, 8, 8], dict(op="average_pooling2d", pool_size=2)),
    "avgpool_3_s2_same_odd_c5": ([1, 15, 15, 5], dict(op="average_pooling2d", pool_size=3,
                                                      strides=2, padding="same")),
    "avgpool_3_s1_same_c24": ([1, 7, 9, 24], dict(op="average_pooling2d", pool_size=3, strides=1,
                                                  padding="same")),
    "avgpool_2_s2_same_odd_batch2": ([2, 9, 9, 4], dict(op="average_pooling2d", pool_size=2,
                                                        padding="same")),
    # Explicit padding counts only real elements too (padded positions are never data).
    "avgpool_explicit_asymmetric": ([1, 8, 9, 5], dict(op="average_pooling2d", pool_size=3,
                                                       strides=2, padding=[[1, 0], [2, 1]])),
    # global pooling
    "gap2d": ([1, 7, 7, 40], dict(op="global_average_pooling2d")),
    "gap2d_keepdims_batch2": ([2, 5, 6, 8], dict(op="global_average_pooling2d", keepdims=True)),
    "gap1d": ([1, 13, 12], dict(op="global_average_pooling1d")),
    "gap1d_keepdims": ([2, 9, 5], dict(op="global_average_pooling1d", keepdims=True)),
    # reshape
    "reshape_flatten": ([1, 4, 4, 6], dict(op="reshape", target_shape=[96])),
    "reshape_to_rank3_batch2": ([2, 4, 4, 6], dict(op="reshape", target_shape=[16, 6])),
    # dense
    "dense_rank2_c40": ([1, 40], dict(op="dense", units=10)),
    "dense_rank3": ([1, 7, 24], dict(op="dense", units=5, activation="relu")),
    "dense_rank4_batch2": ([2, 3, 5, 8], dict(op="dense", units=6, activation="tanh")),
    "dense_no_bias_softmax": ([3, 17], dict(op="dense", units=11, use_bias=False,
                                            activation="softmax")),
}


@pytest.mark.parametrize("case_id", SINGLE_LAYER_CASES)
def test_single_layer(case_id, check):
    shape, attrs = SINGLE_LAYER_CASES[case_id]
    op = attrs["op"]
    options = {k: v for k, v in attrs.items() if k != "op"}
    check(make_model(c_name(case_id), {"x": shape}, [layer(op, "y", "x", **options)]))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("op, shape, attrs", [
    ("activation", [1, 5, 7, 6], {}),
    ("depthwise_conv2d", [1, 9, 9, 5], dict(kernel_size=3, padding="same")),
    ("conv2d", [1, 6, 6, 24], dict(filters=12, kernel_size=1)),
    ("dense", [2, 20], dict(units=7)),
], ids=["activation_op", "fused_in_depthwise", "fused_in_pointwise", "fused_in_dense"])
def test_activation(op, shape, attrs, activation, check):
    model = make_model(c_name(f"{op}_{activation}"), {"x": shape},
                       [layer(op, "y", "x", activation=activation, **attrs)])
    check(model)


def test_max_pooling_never_picks_padding_on_negative_input(check):
    model = make_model("maxpool_negative", {"x": [1, 9, 9, 5]},
                       [layer("max_pooling2d", "y", "x", pool_size=3, strides=2, padding="same")])
    x = -10.0 - np.random.default_rng(0).uniform(0.0, 1.0, (1, 9, 9, 5)).astype(np.float32)
    check(model, inputs={"x": x})


@pytest.mark.parametrize("activation", ["relu", "relu6"])
def test_clamps_propagate_nan_like_numpy(activation, tmp_path, target):
    # The clamps' max is nsz (one vmaxps on x86): NaN must still come through, exactly
    # where the float64 reference puts it, in the fused separable kernel and elsewhere.
    model = make_model(c_name(f"nan_{activation}"), {"x": [1, 8, 14, 16]}, [
        layer("depthwise_conv2d", "dw", "x", kernel_size=3, padding="same", activation=activation),
        layer("conv2d", "pw", "dw", filters=32, kernel_size=1, activation=activation),
    ])
    weights = random_weights(model)
    x = random_inputs(model)["x"]
    x[0, 3, 5, 7] = np.nan
    want = run_reference(model, weights, {"x": x})["pw"]
    got = compile_and_run(model, weights, {"x": x}, tmp_path, target)["pw"]
    assert np.isnan(want).sum() == 3 * 3 * 32
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    assert scaled_error(got[finite], want[finite]) <= TOLERANCE


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_add_of_three_values(activation, check):
    model = make_model(c_name(f"add3_{activation}"), {"x": [1, 7, 9, 5]}, [
        layer("depthwise_conv2d", "a", "x", kernel_size=3, padding="same"),
        layer("conv2d", "b", "x", filters=5, kernel_size=1),
        layer("add", "y", ["x", "a", "b"], activation=activation),
    ])
    check(model)


def test_add_of_two_model_inputs(check):
    model = make_model("add_inputs", {"x": [2, 6, 6, 24], "z": [2, 6, 6, 24]},
                       [layer("add", "y", ["x", "z"], activation="relu6")])
    check(model)


# ============================================================================ extensions
# sepc's extensions of the spec (docs/model-json.md): multiply, rescaling, concatenate and
# cropping2d, the layers of squeeze-excite blocks, preprocessing, DenseNet and NASNet.

@pytest.mark.parametrize("shape, gate_shape, activation", [
    ([1, 9, 7, 24], [1, 1, 1, 24], "linear"),       # a squeeze-excite scale
    ([2, 5, 6, 20], [2, 1, 1, 20], "relu"),         # batch 2: one scale per image
    ([1, 13, 12], [1, 1, 12], "linear"),            # 1-D
    ([1, 6, 6, 8], [1, 6, 6, 8], "hard_swish"),     # same shapes
    ([3, 17], [3, 17], "softmax"),
], ids=["se_2d", "se_batch2", "se_1d", "same_shape", "rank2_softmax"])
def test_multiply(shape, gate_shape, activation, check):
    model = make_model(c_name(f"mul_{len(shape)}_{gate_shape[1]}_{activation}"),
                       {"x": shape, "g": gate_shape},
                       [layer("multiply", "y", ["x", "g"], activation=activation)])
    check(model)


def test_squeeze_excite_block(check):
    """MobileNetV3's: pool (keepdims) -> 1x1 relu -> 1x1 hard_sigmoid -> multiply, the
    gate first in the inputs; three inputs to one multiply too."""
    model = make_model("squeeze_excite", {"x": [1, 10, 10, 32]}, [
        layer("depthwise_conv2d", "dw", "x", kernel_size=3, padding="same",
              activation="hard_swish"),
        layer("global_average_pooling2d", "pool", "dw", keepdims=True),
        layer("conv2d", "squeeze", "pool", filters=8, kernel_size=1, activation="relu"),
        layer("conv2d", "excite", "squeeze", filters=32, kernel_size=1,
              activation="hard_sigmoid"),
        layer("multiply", "scaled", ["excite", "dw"]),
        layer("multiply", "twice", ["scaled", "excite", "dw"], activation="relu6"),
        layer("conv2d", "project", "twice", filters=16, kernel_size=1),
    ], outputs=["project", "scaled"])
    check(model)


@pytest.mark.parametrize("shape, attrs", [
    ([1, 8, 9, 3], dict(scale=1 / 255)),
    ([1, 8, 9, 3], dict(scale=1 / 127.5, offset=-1)),
    ([1, 8, 9, 3], dict(scale=[2.0, 0.5, -1.0], offset=[0.1, 0.2, 0.3])),
    ([2, 7, 24], dict(scale=[float(i) / 8 for i in range(24)], offset=3, activation="relu6")),
    ([1, 5, 40], dict(scale=1, offset=[float(i) for i in range(40)])),
], ids=["pixels", "signed_pixels", "per_channel", "per_channel_rank3_relu6", "offset_only"])
def test_rescaling(shape, attrs, check):
    model = make_model(c_name(f"rescale_{len(shape)}_{shape[-1]}_{len(attrs)}"), {"x": shape},
                       [layer("rescaling", "y", "x", **attrs)])
    check(model)


@pytest.mark.parametrize("shapes", [
    [[1, 6, 7, 8], [1, 6, 7, 16]],
    [[2, 5, 5, 3], [2, 5, 5, 13], [2, 5, 5, 24]],
    [[1, 11, 5], [1, 11, 7]],
], ids=["two", "three_batch2", "rank3"])
def test_concatenate(shapes, check):
    names = [f"x{i}" for i in range(len(shapes))]
    inputs = dict(zip(names, shapes, strict=True))
    model = make_model(c_name(f"cat_{len(shapes)}_{len(shapes[0])}"), inputs,
                       [layer("concatenate", "y", names)])
    check(model)


def test_dense_block(check):
    """DenseNet's: each conv's output joins the features before it; the concatenation
    is read by a batch norm, a conv and the next concatenation."""
    model = make_model("dense_block", {"x": [1, 8, 8, 16]}, [
        layer("batch_norm", "bn1", "x", activation="relu"),
        layer("conv2d", "c1", "bn1", filters=8, kernel_size=3, padding="same"),
        layer("concatenate", "cat1", ["x", "c1"]),
        layer("batch_norm", "bn2", "cat1", activation="relu"),
        layer("conv2d", "c2", "bn2", filters=8, kernel_size=1),
        layer("concatenate", "cat2", ["cat1", "c2"]),
        layer("average_pooling2d", "pool", "cat2", pool_size=2),
    ], outputs=["pool", "cat2"])
    check(model)


@pytest.mark.parametrize("shape, cropping", [
    ([1, 9, 9, 8], [[0, 1], [0, 1]]),                # NASNet's
    ([2, 10, 7, 5], [[2, 1], [0, 3]]),
], ids=["nasnet", "asymmetric_batch2"])
def test_cropping2d(shape, cropping, check):
    model = make_model(c_name(f"crop_{shape[0]}_{shape[1]}"), {"x": shape}, [
        layer("cropping2d", "crop", "x", cropping=cropping),
        layer("depthwise_conv2d", "dw", "crop", kernel_size=3, padding="same"),
    ], outputs=["dw", "crop"])
    check(model)


# ============================================================================ graphs

def batch_normed(op, name, source, activation="relu6", **attrs):
    """A parameterised layer without bias followed by batch_norm, as Keras models write it."""
    return [layer(op, name, source, use_bias=False, **attrs),
            layer("batch_norm", name + "_bn", name, activation=activation)]


def test_mobilenet_v1_blocks(check):
    model = make_model("mobilenet_v1", {"x": [1, 19, 19, 3]}, [
        *batch_normed("conv2d", "stem", "x", filters=16, kernel_size=3, strides=2, padding="same"),
        *batch_normed("depthwise_conv2d", "dw1", "stem_bn", kernel_size=3, padding="same"),
        *batch_normed("conv2d", "pw1", "dw1_bn", filters=24, kernel_size=1),
        *batch_normed("depthwise_conv2d", "dw2", "pw1_bn", kernel_size=3, strides=2,
                      padding="same"),
        *batch_normed("conv2d", "pw2", "dw2_bn", filters=40, kernel_size=1),
    ])
    check(model)


def test_mobilenet_v1_keras_stride2_block_with_zero_padding(check):
    # Keras' MobileNet pads explicitly and then runs the stride-2 depthwise conv `valid`.
    model = make_model("mobilenet_v1_zero_pad", {"x": [1, 14, 14, 8]}, [
        layer("zero_padding2d", "pad", "x", padding=[[0, 1], [0, 1]]),
        *batch_normed("depthwise_conv2d", "dw", "pad", kernel_size=3, strides=2, padding="valid"),
        *batch_normed("conv2d", "pw", "dw_bn", filters=16, kernel_size=1),
    ])
    check(model)


def test_mobilenet_v2_inverted_residuals(check):
    model = make_model("mobilenet_v2", {"x": [1, 14, 14, 16]}, [
        *batch_normed("conv2d", "expand", "x", filters=48, kernel_size=1),
        *batch_normed("depthwise_conv2d", "dw", "expand_bn", kernel_size=3, padding="same"),
        *batch_normed("conv2d", "project", "dw_bn", filters=16, kernel_size=1, activation="linear"),
        layer("add", "residual", ["x", "project_bn"]),
        # A stride-2 block changes the shape, so it has no residual.
        *batch_normed("conv2d", "expand2", "residual", filters=48, kernel_size=1),
        *batch_normed("depthwise_conv2d", "dw2", "expand2_bn", kernel_size=3, strides=2,
                      padding="same"),
        *batch_normed("conv2d", "project2", "dw2_bn", filters=24, kernel_size=1,
                      activation="linear"),
    ])
    check(model)


def test_xception_block_with_max_pool_and_shortcut(check):
    model = make_model("xception_block", {"x": [1, 16, 16, 8]}, [
        layer("activation", "act1", "x", activation="relu"),
        *batch_normed("separable_conv2d", "sep1", "act1", activation="relu", filters=16,
                      kernel_size=3, padding="same"),
        *batch_normed("separable_conv2d", "sep2", "sep1_bn", activation="linear", filters=16,
                      kernel_size=3, padding="same"),
        layer("max_pooling2d", "pool", "sep2_bn", pool_size=3, strides=2, padding="same"),
        *batch_normed("conv2d", "shortcut", "x", activation="linear", filters=16, kernel_size=1,
                      strides=2),
        layer("add", "y", ["pool", "shortcut_bn"]),
    ])
    check(model)


def test_keyword_spotting_1d_separable(check):
    model = make_model("kws", {"x": [1, 49, 10]}, [
        *batch_normed("conv1d", "conv", "x", activation="relu", filters=24, kernel_size=3,
                      padding="same"),
        *batch_normed("separable_conv1d", "sep1", "conv_bn", activation="relu", filters=24,
                      kernel_size=9, padding="same"),
        *batch_normed("separable_conv1d", "sep2", "sep1_bn", activation="relu", filters=32,
                      kernel_size=9, strides=2, padding="same"),
        layer("global_average_pooling1d", "gap", "sep2_bn"),
        layer("dense", "logits", "gap", units=12, activation="softmax"),
    ])
    check(model)


def test_long_1d_separable_tiles_between_the_edges_read_their_input_in_place(check):
    # 12000 steps x 32 channels is several tiles: the first and last pad their input, the
    # ones between read it where it is (elide-zero-pads); all must match the reference.
    model = make_model("long_1d", {"x": [1, 12000, 32]}, [
        layer("depthwise_conv1d", "dw", "x", kernel_size=9, padding="same", activation="relu6"),
        layer("conv1d", "pw", "dw", filters=32, kernel_size=1, activation="relu6"),
    ])
    check(model)


@pytest.mark.parametrize("height, width, channels, filters",
                         [(7, 7, 128, 256), (5, 7, 128, 256), (6, 6, 64, 32)])
def test_narrow_separable_blocks_of_two_rows(height, width, channels, filters, check):
    # Narrow layers get two-row pointwise register blocks (AVX-512): a tile of 7 or 5 rows
    # splits off its last row into one-row blocks, one of 3 rows (6x6) too; the plans are
    # pinned in test_separable_plan.py.
    model = make_model(f"narrow_{height}x{width}", {"x": [1, height, width, channels]}, [
        layer("depthwise_conv2d", "dw", "x", kernel_size=3, padding="same", activation="relu6"),
        layer("conv2d", "pw", "dw", filters=filters, kernel_size=1, activation="relu6"),
    ])
    check(model)


def test_classifier_head_gap_dense_softmax(check):
    model = make_model("head", {"x": [2, 7, 7, 40]}, [
        layer("global_average_pooling2d", "gap", "x"),
        layer("dense", "fc", "gap", units=10, activation="softmax"),
    ])
    check(model)


def test_keras_mobilenet_head_conv_reshape_softmax(check):
    model = make_model("keras_head", {"x": [1, 5, 5, 32]}, [
        layer("global_average_pooling2d", "gap", "x", keepdims=True),
        layer("conv2d", "logits", "gap", filters=10, kernel_size=1),
        layer("reshape", "flat", "logits", target_shape=[10]),
        layer("activation", "probs", "flat", activation="softmax"),
    ])
    check(model)


def test_average_pool_then_dense(check):
    model = make_model("avgpool_dense", {"x": [1, 11, 11, 6]}, [
        layer("conv2d", "conv", "x", filters=8, kernel_size=3, padding="same", activation="relu"),
        layer("average_pooling2d", "pool", "conv", pool_size=3, strides=2, padding="same"),
        layer("reshape", "flat", "pool", target_shape=[6 * 6 * 8]),
        layer("dense", "fc", "flat", units=5),
    ])
    check(model)


def test_two_outputs_in_other_than_layer_order(check):
    model = make_model("two_outputs", {"x": [1, 8, 8, 5]}, [
        layer("depthwise_conv2d", "dw", "x", kernel_size=3, padding="same", activation="relu"),
        layer("conv2d", "pw", "dw", filters=6, kernel_size=1),
    ], outputs=["pw", "dw"])
    check(model)


def test_output_that_is_also_used_later(check):
    model = make_model("shared_output", {"x": [1, 9, 9, 8]}, [
        layer("depthwise_conv2d", "dw", "x", kernel_size=3, padding="same", activation="relu6"),
        layer("conv2d", "pw", "dw", filters=8, kernel_size=1),
        layer("add", "sum", ["dw", "pw"]),
        layer("max_pooling2d", "pool", "sum", pool_size=2),
    ], outputs=["dw", "pool"])
    check(model)


def test_output_that_is_a_model_input(check):
    model = make_model("passthrough", {"x": [1, 6, 6, 3]}, [
        layer("conv2d", "y", "x", filters=5, kernel_size=3),
    ], outputs=["y", "x"])
    check(model)


def test_two_inputs_two_branches(check):
    model = make_model("two_inputs", {"a": [1, 10, 10, 5], "b": [1, 5, 5, 8]}, [
        layer("separable_conv2d", "a_down", "a", filters=8, kernel_size=3, strides=2,
              padding="same"),
        layer("depthwise_conv2d", "b_dw", "b", kernel_size=3, padding="same", depth_multiplier=1),
        layer("add", "y", ["a_down", "b_dw"], activation="relu"),
    ])
    check(model)


def test_layer_without_parameters_needs_no_weights_file(check):
    model = make_model("no_weights", {"x": [1, 9, 9, 5]}, [
        layer("max_pooling2d", "pool", "x", pool_size=3, strides=2),
        layer("activation", "y", "pool", activation="sigmoid"),
    ])
    check(model)
