"""The model.json front end: every valid model loads with the right shapes, parameters and
resolved padding; every invalid one fails with one UserError line naming file, layer, field."""
import copy
import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden_cases import REPO_CASES, SHARED_CASES
from sepc.errors import UserError
from sepc.frontend.model_json import load_model, same_padding

CASES = ([pytest.param(str(case / "model.json"), id=f"repo-{case.name}") for case in REPO_CASES]
         + [pytest.param(str(case / "model.json"), id=f"shared-{case.name}")
            for case in SHARED_CASES])
DELETE = object()

# One model that uses every op, with per-layer output shapes to check inference against.
BASE_LAYERS = [
    ({"name": "c1", "op": "conv2d", "input": "x", "filters": 8, "kernel_size": 3, "strides": 2,
      "padding": "same", "activation": "relu"}, (1, 5, 5, 8)),
    ({"name": "bn", "op": "batch_norm", "input": "c1", "activation": "relu6"}, (1, 5, 5, 8)),
    ({"name": "dw", "op": "depthwise_conv2d", "input": "bn", "kernel_size": [3, 3],
      "padding": "same", "depth_multiplier": 2}, (1, 5, 5, 16)),
    ({"name": "pw", "op": "conv2d", "input": "dw", "filters": 8, "kernel_size": 1,
      "use_bias": False}, (1, 5, 5, 8)),
    ({"name": "sum", "op": "add", "inputs": ["bn", "pw"], "activation": "relu"}, (1, 5, 5, 8)),
    ({"name": "pad", "op": "zero_padding2d", "input": "sum", "padding": [[1, 0], [0, 1]]},
     (1, 6, 6, 8)),
    ({"name": "sep", "op": "separable_conv2d", "input": "pad", "filters": 8, "kernel_size": 3},
     (1, 4, 4, 8)),
    ({"name": "mp", "op": "max_pooling2d", "input": "sep", "pool_size": 2}, (1, 2, 2, 8)),
    ({"name": "ap", "op": "average_pooling2d", "input": "sep", "pool_size": 3, "strides": 1,
      "padding": "same"}, (1, 4, 4, 8)),
    ({"name": "gap", "op": "global_average_pooling2d", "input": "ap", "keepdims": True},
     (1, 1, 1, 8)),
    ({"name": "flat", "op": "reshape", "input": "gap", "target_shape": [8]}, (1, 8)),
    ({"name": "fc", "op": "dense", "input": "flat", "units": 3, "activation": "softmax"}, (1, 3)),
    ({"name": "act", "op": "activation", "input": "mp", "activation": "hard_swish"},
     (1, 2, 2, 8)),
    ({"name": "sep1", "op": "separable_conv1d", "input": "y", "filters": 4, "kernel_size": 5,
      "strides": 2, "padding": "same"}, (1, 25, 4)),
    ({"name": "dw1", "op": "depthwise_conv1d", "input": "sep1", "kernel_size": 3}, (1, 23, 4)),
    ({"name": "c1d", "op": "conv1d", "input": "dw1", "filters": 2, "kernel_size": 3,
      "dilation_rate": 2}, (1, 19, 2)),
    ({"name": "gap1", "op": "global_average_pooling1d", "input": "c1d"}, (1, 2)),
]
INDEX = {layer["name"]: i for i, (layer, _) in enumerate(BASE_LAYERS)}

# The parameter shapes of spec/model-json.md, written out by hand for BASE_LAYERS.
BASE_PARAMS = {
    "c1": {"kernel": (3, 3, 4, 8), "bias": (8,)},
    "bn": {name: (8,) for name in ("gamma", "beta", "moving_mean", "moving_variance")},
    "dw": {"depthwise_kernel": (3, 3, 8, 2), "bias": (16,)},
    "pw": {"kernel": (1, 1, 16, 8)},
    "sep": {"depthwise_kernel": (3, 3, 8, 1), "pointwise_kernel": (1, 1, 8, 8), "bias": (8,)},
    "fc": {"kernel": (8, 3), "bias": (3,)},
    "sep1": {"depthwise_kernel": (5, 6, 1), "pointwise_kernel": (1, 6, 4), "bias": (4,)},
    "dw1": {"depthwise_kernel": (3, 4, 1), "bias": (4,)},
    "c1d": {"kernel": (3, 4, 2), "bias": (2,)},
}


def base_doc():
    return {
        "sepc": 1,
        "name": "everything",
        "inputs": {"x": {"shape": [1, 9, 9, 4], "dtype": "float32"},
                   "y": {"shape": [1, 50, 6], "dtype": "float32"}},
        "weights": "weights.npz",
        "layers": [copy.deepcopy(layer) for layer, _ in BASE_LAYERS],
        "outputs": ["fc", "act", "gap1"],
    }


def base_weights():
    rng = np.random.default_rng(1)
    return {f"{layer}/{param}": rng.standard_normal(shape).astype(np.float32)
            for layer, params in BASE_PARAMS.items() for param, shape in params.items()}


def write_model(folder, doc, weights=None, text=None):
    path = os.path.join(folder, "model.json")
    with open(path, "w") as f:
        f.write(text if text is not None else json.dumps(doc, indent=1))
    if weights is not None:
        np.savez(os.path.join(folder, "weights.npz"), **weights)
    return path


def error_of(path, **kwargs):
    with pytest.raises(UserError) as info:
        load_model(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def layer_prefix(path, name, field):
    """field None: an error about the layer as a whole."""
    return f"{path}: layer '{name}' (#{INDEX[name]}): " + (f"field '{field}': " if field else "")


# --- valid models --------------------------------------------------------------------------

@pytest.mark.parametrize("model", CASES)
def test_conformance_case_loads_with_golden_shapes(model):
    graph = load_model(model)
    folder = os.path.dirname(model)
    for output in graph.outputs:
        expected = np.load(os.path.join(folder, f"expected.{output}.npy"))
        assert graph.shape_of(output) == expected.shape
    for spec in graph.inputs:
        assert spec.shape == np.load(os.path.join(folder, f"input.{spec.name}.npy")).shape
    # A model without parameters may have no .npz (spec); its layers then load none.
    with open(model) as f:
        npz = json.load(f).get("weights")
    weights = dict(np.load(os.path.join(folder, npz))) if npz else {}
    loaded = {f"{layer.name}/{name}": array for layer in graph.layers
              for name, array in layer.params.items()}
    assert sorted(loaded) == sorted(weights)
    for key, array in loaded.items():
        np.testing.assert_array_equal(array, weights[key])


def test_every_op_infers_its_output_shape(tmp_path):
    graph = load_model(write_model(tmp_path, base_doc(), base_weights()))
    assert [layer.out_shape for layer in graph.layers] == [shape for _, shape in BASE_LAYERS]
    assert [layer.index for layer in graph.layers] == list(range(len(BASE_LAYERS)))
    assert graph.name == "everything" and graph.outputs == ["fc", "act", "gap1"]
    assert graph.source == str(tmp_path / "model.json")


def test_parameters_are_float32_c_contiguous_under_short_names(tmp_path):
    weights = base_weights()
    weights["c1/kernel"] = np.asfortranarray(weights["c1/kernel"].astype(np.float64))
    graph = load_model(write_model(tmp_path, base_doc(), weights))
    for layer in graph.layers:
        assert {n: a.shape for n, a in layer.params.items()} == BASE_PARAMS.get(layer.name, {})
        for name, array in layer.params.items():
            assert array.dtype == np.float32 and array.flags.c_contiguous
            np.testing.assert_array_equal(array, weights[f"{layer.name}/{name}"].astype(np.float32))


def test_defaults_and_normalised_attributes(tmp_path):
    layers = {layer.name: layer for layer in
              load_model(write_model(tmp_path, base_doc(), base_weights())).layers}
    assert layers["dw"].attrs == {
        "kernel_size": (3, 3), "strides": (1, 1), "dilation_rate": (1, 1),
        "padding": ((1, 1), (1, 1)), "padding_mode": "same", "depth_multiplier": 2,
        "use_bias": True, "activation": "linear"}
    assert layers["sep"].attrs["depth_multiplier"] == 1
    assert layers["sep"].attrs["padding"] == ((0, 0), (0, 0))
    assert layers["sep"].attrs["padding_mode"] == "valid"
    assert layers["mp"].attrs == {"pool_size": (2, 2), "strides": (2, 2),
                                  "padding": ((0, 0), (0, 0)), "padding_mode": "valid"}
    assert layers["pad"].attrs == {"padding": ((1, 0), (0, 1)), "padding_mode": "explicit"}
    assert layers["bn"].attrs == {"epsilon": 0.001, "activation": "relu6"}
    assert layers["sum"].inputs == ["bn", "pw"] and layers["sum"].attrs == {"activation": "relu"}
    assert layers["gap1"].attrs == {"keepdims": False}
    assert layers["fc"].attrs == {"units": 3, "use_bias": True, "activation": "softmax"}
    assert layers["c1d"].attrs["dilation_rate"] == (2,)
    assert layers["sep1"].attrs["padding"] == ((1, 2),)
    assert "bias" not in layers["pw"].params


@pytest.mark.parametrize("size, kernel, stride, dilation, pads", [
    (16, 3, 1, 1, (1, 1)),
    (15, 3, 2, 1, (1, 1)),
    (16, 3, 2, 1, (0, 1)),       # stride 2, even size: the odd pixel goes after
    (10, 4, 1, 1, (1, 2)),       # even kernel: more after
    (7, 3, 1, 2, (2, 2)),        # dilation widens the window to 5
    (5, 1, 2, 1, (0, 0)),
    (2, 5, 3, 1, (1, 2)),
    (9, 2, 3, 1, (0, 0)),        # the clamp: windows never reach past the input
])
def test_same_padding_follows_keras(size, kernel, stride, dilation, pads):
    assert same_padding(size, kernel, stride, dilation) == pads


@pytest.mark.parametrize("layer, shape, padding, out", [
    ({"kernel_size": 3, "strides": 2, "padding": "same"}, [1, 16, 15, 2],
     ((0, 1), (1, 1)), (1, 8, 8, 4)),
    ({"kernel_size": [3, 1], "strides": [2, 1], "padding": "same"}, [1, 16, 15, 2],
     ((0, 1), (0, 0)), (1, 8, 15, 4)),
    ({"kernel_size": 3, "strides": 2, "padding": [[1, 1], [2, 0]]}, [1, 11, 11, 2],
     ((1, 1), (2, 0)), (1, 6, 6, 4)),
    ({"kernel_size": 3, "dilation_rate": [2, 1], "padding": "valid"}, [1, 9, 9, 2],
     ((0, 0), (0, 0)), (1, 5, 7, 4)),
    ({"kernel_size": 3, "strides": 3, "padding": "valid"}, [1, 10, 11, 2],
     ((0, 0), (0, 0)), (1, 3, 3, 4)),
])
def test_conv_padding_resolves_to_pairs(tmp_path, layer, shape, padding, out):
    doc = {"sepc": 1, "name": "m", "inputs": {"x": {"shape": shape, "dtype": "float32"}},
           "layers": [{"name": "c", "op": "conv2d", "input": "x", "filters": 4, **layer}],
           "outputs": ["c"]}
    (conv,) = load_model(write_model(tmp_path, doc), random_weights_seed=0).layers
    assert conv.attrs["padding"] == padding and conv.out_shape == out


def test_pooling_same_pads_like_keras(tmp_path):
    doc = {"sepc": 1, "name": "m", "inputs": {"x": {"shape": [1, 15, 16, 3], "dtype": "float32"}},
           "layers": [{"name": "p", "op": "max_pooling2d", "input": "x", "pool_size": 3,
                       "strides": 2, "padding": "same"}],
           "outputs": ["p"]}
    (pool,) = load_model(write_model(tmp_path, doc)).layers
    assert pool.attrs["padding"] == ((1, 1), (0, 1)) and pool.attrs["padding_mode"] == "same"
    assert pool.out_shape == (1, 8, 8, 3)


def test_reshape_infers_minus_one(tmp_path):
    doc = {"sepc": 1, "name": "m", "inputs": {"x": {"shape": [2, 4, 6, 3], "dtype": "float32"}},
           "layers": [{"name": "r", "op": "reshape", "input": "x", "target_shape": [-1, 9]},
                      {"name": "d", "op": "dense", "input": "r", "units": 5, "use_bias": False}],
           "outputs": ["d", "x"]}
    reshape, dense = load_model(write_model(tmp_path, doc), random_weights_seed=3).layers
    assert reshape.attrs["target_shape"] == (8, 9) and reshape.out_shape == (2, 8, 9)
    assert dense.out_shape == (2, 8, 5) and list(dense.params) == ["kernel"]


def test_model_without_parameters_needs_no_weights(tmp_path):
    doc = {"sepc": 1, "name": "m", "inputs": {"x": {"shape": [1, 4, 4, 2], "dtype": "float32"}},
           "layers": [{"name": "a", "op": "activation", "input": "x", "activation": "tanh"}],
           "outputs": ["a"]}
    assert load_model(write_model(tmp_path, doc)).layers[0].params == {}


def test_an_input_can_be_an_output_and_layers_can_be_empty(tmp_path):
    doc = {"sepc": 1, "name": "m", "inputs": {"x": {"shape": [3, 5], "dtype": "float32"}},
           "layers": [], "outputs": ["x"]}
    graph = load_model(write_model(tmp_path, doc))
    assert graph.layers == [] and graph.shape_of("x") == (3, 5)


def test_weights_path_is_relative_to_the_model_folder(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    np.savez(tmp_path / "sub" / "w.npz", **base_weights())
    doc = base_doc()
    doc["weights"] = "sub/w.npz"
    path = write_model(tmp_path, doc)
    monkeypatch.chdir("/")
    assert load_model(path).layers[0].params["kernel"].shape == (3, 3, 4, 8)


# --- random weights ------------------------------------------------------------------------

def test_random_weights_ignore_the_npz_and_are_deterministic(tmp_path):
    path = write_model(tmp_path, base_doc())           # weights.npz does not exist
    first, again, other = (load_model(path, random_weights_seed=s).layers for s in (7, 7, 8))
    for a, b, c in zip(first, again, other, strict=True):
        assert {n: p.shape for n, p in a.params.items()} == BASE_PARAMS.get(a.name, {})
        for name in a.params:
            assert a.params[name].dtype == np.float32 and a.params[name].flags.c_contiguous
            np.testing.assert_array_equal(a.params[name], b.params[name])
            assert not np.array_equal(a.params[name], c.params[name])


def test_random_weights_ignore_a_bad_npz(tmp_path):
    weights = base_weights()
    del weights["c1/kernel"]
    path = write_model(tmp_path, base_doc(), weights)
    assert load_model(path, random_weights_seed=0).layers[0].params["kernel"].shape == (3, 3, 4, 8)


def test_random_weights_follow_the_documented_distributions(tmp_path):
    doc = {"sepc": 1, "name": "m", "inputs": {"x": {"shape": [1, 8, 8, 64], "dtype": "float32"}},
           "layers": [{"name": "c", "op": "conv2d", "input": "x", "filters": 64, "kernel_size": 3},
                      {"name": "b", "op": "batch_norm", "input": "c"}],
           "outputs": ["b"]}
    conv, bn = load_model(write_model(tmp_path, doc), random_weights_seed=0).layers
    assert conv.params["kernel"].std() == pytest.approx(math.sqrt(2 / (3 * 3 * 64)), rel=0.05)
    assert conv.params["bias"].std() == pytest.approx(0.1, rel=0.3)
    for name in ("gamma", "moving_variance"):
        assert bn.params[name].min() >= 0.5 and bn.params[name].max() <= 1.5


def test_random_weights_are_drawn_in_layer_order(tmp_path):
    """The same seed gives the same draws as a plain generator walked layer by layer."""
    doc = {"sepc": 1, "name": "m", "inputs": {"x": {"shape": [1, 4, 4, 2], "dtype": "float32"}},
           "layers": [{"name": "d", "op": "depthwise_conv2d", "input": "x", "kernel_size": 3},
                      {"name": "b", "op": "batch_norm", "input": "d"}],
           "outputs": ["b"]}
    dw, bn = load_model(write_model(tmp_path, doc), random_weights_seed=5).layers
    rng = np.random.default_rng(5)
    expected = [rng.standard_normal((3, 3, 2, 1)) * math.sqrt(2 / 9),
                rng.standard_normal(2) * 0.1, rng.uniform(0.5, 1.5, 2),
                rng.standard_normal(2) * 0.1, rng.standard_normal(2) * 0.1,
                rng.uniform(0.5, 1.5, 2)]
    got = [dw.params["depthwise_kernel"], dw.params["bias"], bn.params["gamma"],
           bn.params["beta"], bn.params["moving_mean"], bn.params["moving_variance"]]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e.astype(np.float32))


def test_negative_seed_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="seed"):
        load_model(write_model(tmp_path, base_doc()), random_weights_seed=-1)


# --- invalid model.json: every message names file, layer (name, #index) and field ----------

def edit_layer(layer_name, /, **fields):
    def mutate(doc):
        layer = next(layer for layer in doc["layers"] if layer.get("name") == layer_name)
        for key, value in fields.items():
            if value is DELETE:
                del layer[key]
            else:
                layer[key] = value
    return mutate


LAYER_ERRORS = [
    # (layer, field, edit, a fragment the message must contain)
    ("c1", "op", edit_layer("c1", op="conv3d"), "conv3d"),
    ("c1", "op", edit_layer("c1", op=DELETE), "missing"),
    ("c1", "op", edit_layer("c1", op=["conv2d"]), "one of"),
    ("c1", "stride", edit_layer("c1", stride=1), "unknown field"),
    ("c1", "inputs", edit_layer("c1", inputs=["x"]), "unknown field"),
    ("c1", "depth_multiplier", edit_layer("c1", depth_multiplier=1), "unknown field"),
    ("c1", "input", edit_layer("c1", input="nope"), "unknown name"),
    ("c1", "input", edit_layer("c1", input="bn"), "later layer"),
    ("c1", "input", edit_layer("c1", input="c1"), "itself"),
    ("c1", "input", edit_layer("c1", input=DELETE), "missing"),
    ("c1", "input", edit_layer("c1", input=["x"]), "expected the name"),
    ("c1", "input", edit_layer("c1", input="y"), "rank-4 NHWC"),
    ("sep1", "input", edit_layer("sep1", input="x"), "rank-3 NWC"),
    ("gap1", "input", edit_layer("gap1", input="sep"), "rank-3 NWC"),
    ("gap", "input", edit_layer("gap", input="y"), "rank-4 NHWC"),
    ("c1", "filters", edit_layer("c1", filters=0), "positive integer"),
    ("c1", "filters", edit_layer("c1", filters=-8), "positive integer"),
    ("c1", "filters", edit_layer("c1", filters=True), "true"),
    ("c1", "filters", edit_layer("c1", filters=8.0), "8.0"),
    ("c1", "filters", edit_layer("c1", filters="8"), '"8"'),
    ("c1", "filters", edit_layer("c1", filters=None), "null"),
    ("c1", "filters", edit_layer("c1", filters=DELETE), "missing"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size=DELETE), "missing"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size=[3]), "list of 2"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size=[3, 3, 3]), "list of 2"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size=0), "positive"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size=[3, True]), "positive"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size="3"), "positive"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size=11, padding="valid"), "output size >= 1"),
    ("c1", "kernel_size", edit_layer("c1", kernel_size=4, dilation_rate=3, padding="valid"),
     "spanning 10"),
    ("c1", "strides", edit_layer("c1", strides=0), "positive"),
    ("c1", "strides", edit_layer("c1", strides=[2, -1]), "positive"),
    ("c1", "dilation_rate", edit_layer("c1", dilation_rate=[1, 0]), "positive"),
    ("c1", "padding", edit_layer("c1", padding="SAME"), '"valid", "same"'),
    ("c1", "padding", edit_layer("c1", padding="causal"), "causal"),
    ("c1", "padding", edit_layer("c1", padding=[[1, 1]]), "2 [before, after] pairs"),
    ("c1", "padding", edit_layer("c1", padding=[[1, -1], [0, 0]]), "non-negative"),
    ("c1", "padding", edit_layer("c1", padding=[[1, 1, 1], [0, 0]]), "pairs"),
    ("c1", "padding", edit_layer("c1", padding=[1, 1]), "pairs"),
    ("c1", "padding", edit_layer("c1", padding=1), "pairs"),
    ("c1", "use_bias", edit_layer("c1", use_bias=1), "true or false"),
    ("c1", "use_bias", edit_layer("c1", use_bias="yes"), "true or false"),
    ("c1", "activation", edit_layer("c1", activation="gelu"), "relu6"),
    ("c1", "activation", edit_layer("c1", activation=None), "null"),
    ("c1", "activation", edit_layer("c1", activation="ReLU"), "relu"),
    ("dw", "depth_multiplier", edit_layer("dw", depth_multiplier=0), "positive"),
    ("dw", "filters", edit_layer("dw", filters=8), "unknown field"),
    ("sep", "depth_multiplier", edit_layer("sep", depth_multiplier=2.5), "positive"),
    ("sep", "kernel_size", edit_layer("sep", kernel_size=7), "window"),
    ("sep1", "kernel_size", edit_layer("sep1", kernel_size=[5, 5]), "list of 1 positive integer"),
    ("sep1", "padding", edit_layer("sep1", padding=[[1, 1], [1, 1]]), "1 [before, after] pair of"),
    ("dw1", "strides", edit_layer("dw1", strides=[1, 1]), "list of 1 positive integer"),
    ("bn", "epsilon", edit_layer("bn", epsilon=0), "positive number"),
    ("bn", "epsilon", edit_layer("bn", epsilon=-1e-3), "positive number"),
    ("bn", "epsilon", edit_layer("bn", epsilon="1e-3"), "positive number"),
    ("bn", "epsilon", edit_layer("bn", epsilon=True), "positive number"),
    ("bn", "epsilon", edit_layer("bn", epsilon=10**400), "positive number"),
    ("bn", "axis", edit_layer("bn", axis=-1), "unknown field"),
    ("bn", "activation", edit_layer("bn", activation="gelu"), "one of"),
    ("act", "activation", edit_layer("act", activation=DELETE), "missing"),
    ("sum", "inputs", edit_layer("sum", inputs=["bn"]), "two or more"),
    ("sum", "inputs", edit_layer("sum", inputs="bn"), "two or more"),
    ("sum", "inputs", edit_layer("sum", inputs=DELETE), "missing"),
    ("sum", "inputs", edit_layer("sum", inputs=["bn", "dw"]), "(1, 5, 5, 16)"),
    ("sum", "inputs", edit_layer("sum", inputs=["bn", "pw", "nope"]), "unknown name"),
    ("sum", "inputs", edit_layer("sum", inputs=["bn", 3]), "3"),
    ("sum", "input", edit_layer("sum", input="bn"), "unknown field"),
    ("pad", "padding", edit_layer("pad", padding="same"), "pairs"),
    ("pad", "padding", edit_layer("pad", padding=[[1, 1], [1, 1], [1, 1]]), "2 [before"),
    ("pad", "padding", edit_layer("pad", padding=DELETE), "missing"),
    ("mp", "pool_size", edit_layer("mp", pool_size=DELETE), "missing"),
    ("mp", "pool_size", edit_layer("mp", pool_size=5), "output size >= 1"),
    ("mp", "strides", edit_layer("mp", strides=0), "positive"),
    ("mp", "padding", edit_layer("mp", padding=[[0, 0], [0]]), '"valid", "same" or'),
    ("mp", "dilation_rate", edit_layer("mp", dilation_rate=1), "unknown field"),
    ("ap", "padding", edit_layer("ap", padding="full"), '"valid", "same" or'),
    ("gap", "keepdims", edit_layer("gap", keepdims="true"), "true or false"),
    ("flat", "target_shape", edit_layer("flat", target_shape=[9]), "8 elements"),
    ("flat", "target_shape", edit_layer("flat", target_shape=[-1, -1]), "one may be -1"),
    ("flat", "target_shape", edit_layer("flat", target_shape=[]), "non-empty"),
    ("flat", "target_shape", edit_layer("flat", target_shape=[0]), "positive"),
    ("flat", "target_shape", edit_layer("flat", target_shape=[-1, 3]), "8 elements"),
    ("flat", "target_shape", edit_layer("flat", target_shape=DELETE), "missing"),
    ("fc", "units", edit_layer("fc", units=0), "positive"),
    ("fc", "units", edit_layer("fc", units=DELETE), "missing"),
    ("fc", None, edit_layer("fc", units=10**9, input="sep"), "output shape (1, 4, 4, 1000000000)"),
    ("fc", "fc/kernel", edit_layer("fc", units=10**9), "parameter shape (8, 1000000000)"),
]


@pytest.mark.parametrize("name, field, mutate, fragment", LAYER_ERRORS,
                         ids=[f"{n}.{f}-{i}" for i, (n, f, _, _) in enumerate(LAYER_ERRORS)])
def test_layer_error_names_file_layer_and_field(tmp_path, name, field, mutate, fragment):
    doc = base_doc()
    mutate(doc)
    path = write_model(tmp_path, doc, base_weights())
    message = error_of(path)
    assert message.startswith(layer_prefix(path, name, field)), message
    assert fragment in message and ", expected " in message


def test_duplicate_layer_name_is_reported_on_the_second_layer(tmp_path):
    doc = base_doc()
    doc["layers"][0]["name"] = "y"
    path = write_model(tmp_path, doc)
    assert error_of(path).startswith(f"{path}: layer 'y' (#0): field 'name': \"y\", already the "
                                     "name of an input or an earlier layer, expected a unique name")
    doc = base_doc()
    doc["layers"][1]["name"] = "c1"
    doc["layers"][2]["input"] = "c1"
    path = write_model(tmp_path, doc, base_weights())
    assert error_of(path).startswith(f"{path}: layer 'c1' (#1): field 'name': ")


@pytest.mark.parametrize("bad_layer, found", [
    ("conv2d", '"conv2d"'), (None, "null"), ([1], "[1]"),
])
def test_a_layer_that_is_not_an_object(tmp_path, bad_layer, found):
    doc = base_doc()
    doc["layers"][3] = bad_layer
    message = error_of(write_model(tmp_path, doc))
    assert f"layer '?' (#3): {found}, expected a layer object" in message


@pytest.mark.parametrize("name, found", [(None, "missing"), ("", '""'), (7, "7")])
def test_a_layer_without_a_usable_name(tmp_path, name, found):
    doc = base_doc()
    if name is None:
        del doc["layers"][2]["name"]
    else:
        doc["layers"][2]["name"] = name
    message = error_of(write_model(tmp_path, doc))
    assert f"layer '?' (#2): field 'name': {found}, expected a non-empty string" in message


def edit_top(**fields):
    def mutate(doc):
        for key, value in fields.items():
            if value is DELETE:
                del doc[key]
            else:
                doc[key] = value
    return mutate


def edit_input(name, /, **fields):
    def mutate(doc):
        for key, value in fields.items():
            if value is DELETE:
                del doc["inputs"][name][key]
            else:
                doc["inputs"][name][key] = value
    return mutate


TOP_LEVEL_ERRORS = [
    ("sepc", edit_top(sepc=2), "expected 1 (the only model.json format version"),
    ("sepc", edit_top(sepc=DELETE), "missing, expected 1"),
    ("sepc", edit_top(sepc=True), "true, expected 1"),
    ("sepc", edit_top(sepc="1"), '"1", expected 1'),
    ("sepc", edit_top(sepc=1.0), "1.0, expected 1"),
    ("sepc", edit_top(sepc=2, future_field=1), "expected 1"),
    ("weight", edit_top(weight="weights.npz"), "unknown field"),
    ("name", edit_top(name="my-model"), "C identifier"),
    ("name", edit_top(name="1model"), "C identifier"),
    ("name", edit_top(name=""), "C identifier"),
    ("name", edit_top(name=5), "C identifier"),
    ("name", edit_top(name=DELETE), "missing"),
    ("inputs", edit_top(inputs={}), "non-empty object"),
    ("inputs", edit_top(inputs=[{"shape": [1, 2]}]), "non-empty object"),
    ("inputs", edit_top(inputs=DELETE), "missing"),
    ("inputs.x", lambda doc: doc["inputs"].update(x=[1, 9, 9, 4]), "an object"),
    ("inputs.x.shape", edit_input("x", shape=[1, 0, 9, 4]), "positive integers"),
    ("inputs.x.shape", edit_input("x", shape=[9]), "2 or more"),
    ("inputs.x.shape", edit_input("x", shape=[1, 9, True, 4]), "positive integers"),
    ("inputs.x.shape", edit_input("x", shape=[1, 9.0, 9, 4]), "positive integers"),
    ("inputs.x.shape", edit_input("x", shape="1,9,9,4"), "positive integers"),
    ("inputs.x.shape", edit_input("x", shape=DELETE), "missing"),
    ("inputs.x.shape", edit_input("x", shape=[1, 100000, 100000, 4]), "at most 2147483647"),
    ("inputs.x.dtype", edit_input("x", dtype="float16"), '"float32"'),
    ("inputs.x.dtype", edit_input("x", dtype=DELETE), "missing"),
    ("inputs.x.layout", edit_input("x", layout="NHWC"), "unknown field"),
    ("layers", edit_top(layers={"c1": {}}), "list of layer objects"),
    ("layers", edit_top(layers=DELETE), "missing"),
    ("outputs", edit_top(outputs=[]), "non-empty list"),
    ("outputs", edit_top(outputs="fc"), "non-empty list"),
    ("outputs", edit_top(outputs=DELETE), "missing"),
    ("outputs", edit_top(outputs=["fc", "nope"]), '"nope"'),
    ("outputs", edit_top(outputs=["fc", 1]), "1, expected"),
    ("outputs", edit_top(outputs=["fc", "act", "fc"]), "listed 2 times"),
    ("weights", edit_top(weights=5), ".npz"),
    ("weights", edit_top(weights=""), ".npz"),
    ("weights", edit_top(weights=DELETE), "layer 'c1' (#0) has parameters"),
]


@pytest.mark.parametrize("field, mutate, fragment", TOP_LEVEL_ERRORS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(TOP_LEVEL_ERRORS)])
def test_top_level_error_names_file_and_field(tmp_path, field, mutate, fragment):
    doc = base_doc()
    mutate(doc)
    path = write_model(tmp_path, doc, base_weights())
    message = error_of(path)
    assert message.startswith(f"{path}: field '{field}': "), message
    assert fragment in message


def test_the_version_error_wins_over_unknown_fields(tmp_path):
    doc = {"sepc": 2, "graph": {}}
    message = error_of(write_model(tmp_path, doc))
    assert "field 'sepc': 2, expected 1" in message


@pytest.mark.parametrize("text, fragment", [
    ('{"sepc": 1,\n "name": "m",,}', "line 2, column 14: invalid JSON"),
    ('{"sepc": 1', "line 1, column 11: invalid JSON"),
    ("", "line 1, column 1: invalid JSON"),
    ('{"sepc": NaN}', "NaN is not a JSON number"),
    ('{"sepc": Infinity}', "Infinity is not a JSON number"),
    ("[" * 100000, "invalid JSON"),
    ("[1, 2]", "[1, 2], expected a JSON object"),
])
def test_bad_json_names_file_and_position(tmp_path, text, fragment):
    path = write_model(tmp_path, None, text=text)
    message = error_of(path)
    assert message.startswith(f"{path}: ") and fragment in message


def test_missing_and_undecodable_model_files(tmp_path):
    assert "does not exist" in error_of(tmp_path / "nope.json")
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"name": "\xe9"}')
    assert "UTF-8" in error_of(path)


def test_keys_given_twice_are_errors(tmp_path):
    text = json.dumps(base_doc()).replace('"padding": "same"',
                                          '"padding": "same", "padding": "valid"', 1)
    path = write_model(tmp_path, None, base_weights(), text=text)
    assert error_of(path).startswith(layer_prefix(path, "c1", "padding") + "given twice")
    text = json.dumps(base_doc()).replace('"inputs": {', '"inputs": {"y": {}, ', 1)
    path = write_model(tmp_path, None, base_weights(), text=text)
    assert error_of(path).startswith(f"{path}: field 'inputs.y': given twice")


# --- invalid weights -----------------------------------------------------------------------

def npz_prefix(tmp_path, name, key):
    return f"{tmp_path / 'weights.npz'}: layer '{name}' (#{INDEX[name]}): field '{key}': "


def weights_error(tmp_path, edit):
    weights = base_weights()
    edit(weights)
    return error_of(write_model(tmp_path, base_doc(), weights))


def test_missing_parameter(tmp_path):
    message = weights_error(tmp_path, lambda w: w.pop("dw/depthwise_kernel"))
    assert message.startswith(npz_prefix(tmp_path, "dw", "dw/depthwise_kernel") + "missing")


def test_missing_parameter_lists_what_the_layer_has(tmp_path):
    message = weights_error(tmp_path,
                            lambda w: w.update({"dw/kernel": w.pop("dw/depthwise_kernel")}))
    assert "missing (keys for this layer: dw/bias, dw/kernel)" in message


@pytest.mark.parametrize("key, shape, expected", [
    ("dw/depthwise_kernel", (3, 3, 8, 1),
     "shape (3, 3, 8, 1), expected (3, 3, 8, 2) = (KH, KW, C, M)"),
    ("c1/kernel", (3, 3, 8, 4), "expected (3, 3, 4, 8) = (KH, KW, C, filters)"),
    ("dw/bias", (8,), "shape (8), expected (16) = (C*M)"),
    ("sep/pointwise_kernel", (8, 8), "expected (1, 1, 8, 8) = (1, 1, C*M, filters)"),
    ("fc/kernel", (3, 8), "expected (8, 3) = (C, units)"),
    ("bn/gamma", (1, 8), "expected (8) = (C)"),
    ("sep1/depthwise_kernel", (5, 6), "expected (5, 6, 1) = (K, C, M)"),
    ("c1d/kernel", (3, 3, 4, 2), "expected (3, 4, 2) = (K, C, filters)"),
])
def test_parameter_of_the_wrong_shape(tmp_path, key, shape, expected):
    message = weights_error(tmp_path, lambda w: w.update({key: np.zeros(shape, np.float32)}))
    name = key.split("/")[0]
    assert message.startswith(npz_prefix(tmp_path, name, key)) and expected in message


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.complex64])
def test_parameter_that_is_not_float(tmp_path, dtype):
    message = weights_error(tmp_path, lambda w: w.update({"fc/bias": np.zeros(3, dtype)}))
    assert message.startswith(npz_prefix(tmp_path, "fc", "fc/bias") + "dtype")


def test_float16_and_float64_parameters_become_float32(tmp_path):
    weights = base_weights()
    weights["fc/bias"] = weights["fc/bias"].astype(np.float16)
    weights["fc/kernel"] = weights["fc/kernel"].astype(np.float64)
    fc = load_model(write_model(tmp_path, base_doc(), weights)).layers[INDEX["fc"]]
    assert fc.params["bias"].dtype == np.float32 and fc.params["kernel"].dtype == np.float32


def test_key_with_a_typo_is_not_ignored(tmp_path):
    message = weights_error(tmp_path, lambda w: w.update({"c1/kernal": np.zeros(1)}))
    assert message.startswith(npz_prefix(tmp_path, "c1", "c1/kernal") + "unexpected key")
    assert "only c1/kernel, c1/bias" in message


def test_key_for_no_layer(tmp_path):
    message = weights_error(tmp_path, lambda w: w.update({"conv9/kernel": np.zeros(1)}))
    assert message.startswith(f"{tmp_path / 'weights.npz'}: field 'conv9/kernel': matches no layer")


def test_key_for_a_layer_without_parameters(tmp_path):
    message = weights_error(tmp_path, lambda w: w.update({"act/kernel": np.zeros(1)}))
    assert message.startswith(npz_prefix(tmp_path, "act", "act/kernel"))
    assert "op 'activation' has no parameters" in message


def test_bias_for_a_layer_without_bias_is_rejected(tmp_path):
    message = weights_error(tmp_path, lambda w: w.update({"pw/bias": np.zeros(8, np.float32)}))
    assert message.startswith(npz_prefix(tmp_path, "pw", "pw/bias"))
    assert "use_bias false" in message


def test_weights_file_missing(tmp_path):
    path = write_model(tmp_path, base_doc())
    assert error_of(path).startswith(f"{path}: field 'weights': file '{tmp_path / 'weights.npz'}' "
                                     "does not exist")


def test_weights_file_that_is_not_an_npz(tmp_path):
    path = write_model(tmp_path, base_doc())
    (tmp_path / "weights.npz").write_text("not a zip")
    assert error_of(path).startswith(f"{tmp_path / 'weights.npz'}: unreadable")
    np.save(tmp_path / "weights.npz.npy", np.zeros(3))
    os.replace(tmp_path / "weights.npz.npy", tmp_path / "weights.npz")
    assert "a single .npy array" in error_of(path)


def test_weights_with_pickled_objects_are_refused(tmp_path):
    message = weights_error(tmp_path,
                            lambda w: w.update({"fc/bias": np.array([{}, 1, 2], dtype=object)}))
    assert message.startswith(npz_prefix(tmp_path, "fc", "fc/bias") + "unreadable")


# --- robustness: malformed input never escapes as anything but UserError -------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 20) | st.floats(allow_nan=False)
    | st.sampled_from(["same", "valid", "x", "bn", "relu", "", "float32"]),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8)
FIELDS = ["name", "op", "input", "inputs", "filters", "kernel_size", "strides", "dilation_rate",
          "padding", "depth_multiplier", "use_bias", "activation", "epsilon", "pool_size",
          "keepdims", "target_shape", "units"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, len(BASE_LAYERS) - 1), field=st.sampled_from(FIELDS),
       value=JSON_VALUES | st.just(DELETE))
def test_any_field_value_loads_or_fails_cleanly(tmp_path, index, field, value):
    doc = base_doc()
    layer = doc["layers"][index]
    if value is DELETE:
        layer.pop(field, None)
    else:
        layer[field] = value
    path = write_model(tmp_path, doc)
    try:
        load_model(path, random_weights_seed=0)
    except UserError as e:
        assert "\n" not in str(e) and str(e).startswith(path)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["sepc", "name", "inputs", "weights", "layers", "outputs"]),
       value=JSON_VALUES | st.just(DELETE))
def test_any_top_level_value_loads_or_fails_cleanly(tmp_path, field, value):
    doc = base_doc()
    if value is DELETE:
        del doc[field]
    else:
        doc[field] = value
    path = write_model(tmp_path, doc)
    try:
        load_model(path, random_weights_seed=0)
    except UserError as e:
        assert "\n" not in str(e) and str(e).startswith(path)


# --- sepc's extension ops (docs/model-json.md): shapes and errors ---------------------------

EXTENSION_LAYERS = [
    ({"name": "pre", "op": "rescaling", "input": "x", "scale": [0.5, 1, 2, 4], "offset": -1},
     (1, 6, 6, 4)),
    ({"name": "pool", "op": "global_average_pooling2d", "input": "pre", "keepdims": True},
     (1, 1, 1, 4)),
    ({"name": "scaled", "op": "multiply", "inputs": ["pool", "pre"]}, (1, 6, 6, 4)),
    ({"name": "cat", "op": "concatenate", "inputs": ["pre", "scaled", "x"]}, (1, 6, 6, 12)),
    ({"name": "crop", "op": "cropping2d", "input": "cat", "cropping": [[1, 0], [2, 3]]},
     (1, 5, 1, 12)),
]


def extension_doc():
    return {"sepc": 1, "name": "extensions",
            "inputs": {"x": {"shape": [1, 6, 6, 4], "dtype": "float32"}},
            "layers": [copy.deepcopy(layer) for layer, _ in EXTENSION_LAYERS],
            "outputs": ["crop"]}


def test_extension_ops_infer_their_output_shapes(tmp_path):
    graph = load_model(write_model(tmp_path, extension_doc()))
    assert [layer.out_shape for layer in graph.layers] == [s for _, s in EXTENSION_LAYERS]
    assert graph.layers[0].attrs["scale"] == (0.5, 1.0, 2.0, 4.0)
    assert graph.layers[0].attrs["offset"] == (-1.0,)


EXTENSION_ERRORS = [
    ("pre", "scale", dict(scale=[1, 2]), "2 values for an input of shape (1, 6, 6, 4)"),
    ("pre", "scale", dict(scale=DELETE), "missing"),
    ("pre", "scale", dict(scale="1/255"), "finite number"),
    ("pre", "offset", dict(offset=[]), "finite number"),
    ("pre", "offset", dict(offset=[0, 1, 2, True]), "finite number"),
    ("scaled", "inputs", dict(inputs=["pre", "crop"]), "later layer"),
    ("scaled", "inputs", dict(inputs=["pre"]), "two or more"),
    ("cat", "inputs", dict(inputs=["pre", "pool"]), '"pool" of shape (1, 1, 1, 4)'),
    ("cat", "inputs", dict(inputs=["pre"] * 17), "at most 16"),
    ("cat", "axis", dict(axis=-1), "unknown field"),
    ("crop", "cropping", dict(cropping=[[3, 3], [0, 0]]), "3 + 3 cropped along H"),
    ("crop", "cropping", dict(cropping=[[0, 0]]), "2 [before, after] pairs"),
    ("crop", "cropping", dict(cropping=DELETE), "missing"),
]


@pytest.mark.parametrize("name, field, fields, fragment", EXTENSION_ERRORS,
                         ids=[f"{n}.{f}-{i}" for i, (n, f, _, _) in enumerate(EXTENSION_ERRORS)])
def test_extension_op_errors_name_file_layer_and_field(tmp_path, name, field, fields, fragment):
    doc = extension_doc()
    layer = next(layer for layer in doc["layers"] if layer["name"] == name)
    for key, value in fields.items():
        if value is DELETE:
            del layer[key]
        else:
            layer[key] = value
    path = write_model(tmp_path, doc)
    index = [layer["name"] for layer in doc["layers"]].index(name)
    message = error_of(path)
    assert message.startswith(f"{path}: layer '{name}' (#{index}): field '{field}': "), message
    assert fragment in message and ", expected " in message
