#!/usr/bin/env python3
"""Writes the repository's golden cases: small model.json v1 models that together use every
op and option of the format, each with seeded weights and inputs and the outputs of the
float64 NumPy reference (test/python/reference.py).

    python test/golden/generate.py              # rewrites test/golden/cases/
    python test/golden/generate.py --out DIR    # writes the cases into DIR instead

A case is a folder `cases/<case>/` with `model.json`, `weights.npz` (only when a layer has
parameters: the spec lets a model without parameters omit it, and that path needs a case
too), `input.<name>.npy` per model input and `expected.<name>.npy` per model output, all
float32. test/golden/check.py compiles and runs them on a target and compares.

The expected outputs come from the reference alone and this script never imports sepc: a
golden made by the compiler would only check the compiler against itself.

Deterministic to the byte: the data is drawn from numpy's default_rng seeded by the crc32
of the case's name (adding or reordering cases leaves the others alone), and weights.npz is
written with zipfile, uncompressed, with a fixed 1980-01-01 timestamp on every member, where
np.savez would stamp the current time. Regenerating therefore leaves git with nothing to
commit unless a model, the seeds or the reference changed; test/python/test_golden.py holds
the committed files to that.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))

from reference import parameter_shapes, run_reference  # noqa: E402

DEFAULT_OUT = HERE / "cases"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)          # the earliest time a zip member can carry


# ============================================================================ model builders

def layer(op, name, source, **attrs):
    """One layer dict; `source` is a name, or a list of names for `add`, `multiply` and
    `concatenate`."""
    link = {"inputs": source} if isinstance(source, list) else {"input": source}
    return {"name": name, "op": op, **link, **attrs}


def with_bn(op, name, source, activation="relu6", **attrs):
    """A layer without bias followed by batch_norm, as Keras writes it: the shape that
    fold-batch-norm folds into the layer."""
    return [layer(op, name, source, use_bias=False, **attrs),
            layer("batch_norm", name + "_bn", name, activation=activation)]


CASES: dict[str, dict] = {}


def case(name, inputs, layers, outputs=None, input_scale=1.0, input_offset=0.0):
    """Registers a case. Inputs are `input_scale * N(0, 1) + input_offset`: a scale reaches
    the activations' corners (relu6 at 6, hard_swish at +-3), an offset keeps max pooling
    inputs negative so a zero-padded window would give a wrong answer."""
    CASES[name] = {
        "model": {
            "sepc": 1,
            "name": name,
            "inputs": {n: {"shape": list(s), "dtype": "float32"} for n, s in inputs.items()},
            "layers": layers,
            "outputs": outputs or [layers[-1]["name"]],
        },
        "input_scale": input_scale,
        "input_offset": input_offset,
    }


# ---------------------------------------------------------------------------- convolutions

case("conv2d_3x3_same_valid", {"x": [1, 13, 13, 3]}, [
    layer("conv2d", "c1", "x", filters=16, kernel_size=3, strides=1, padding="same",
          activation="relu"),
    # 13 -> 6: stride 2 with `valid` drops the last column and row.
    layer("conv2d", "c2", "c1", filters=24, kernel_size=[3, 3], strides=[2, 2], padding="valid",
          use_bias=False, activation="relu6"),
])

case("conv2d_explicit_dilated", {"x": [1, 10, 7, 5]}, [
    layer("conv2d", "c1", "x", filters=8, kernel_size=3, dilation_rate=2,
          padding=[[2, 2], [1, 3]], activation="hard_swish"),
    # A rectangular kernel and stride, `same` on a 7-wide input: padding only on the right.
    layer("conv2d", "c2", "c1", filters=6, kernel_size=[3, 2], strides=[2, 1], padding="same",
          activation="tanh"),
], input_scale=2.0)

case("conv1d_dilated_strided_batch2", {"x": [2, 20, 5]}, [
    layer("conv1d", "c1", "x", filters=12, kernel_size=3, dilation_rate=2, padding="same",
          activation="tanh"),
    layer("conv1d", "c2", "c1", filters=8, kernel_size=5, strides=2),
])

case("dw2d_c24_same_explicit", {"x": [1, 10, 10, 24]}, [
    layer("depthwise_conv2d", "dw1", "x", kernel_size=3, padding="same", activation="relu6"),
    layer("depthwise_conv2d", "dw2", "dw1", kernel_size=3, strides=2, padding=[[0, 2], [1, 0]],
          use_bias=False),
], input_scale=3.0)

case("dw2d_c40_s2_same_odd", {"x": [1, 13, 13, 40]}, [
    # Stride 2 on an odd size: `same` pads one before and one after.
    layer("depthwise_conv2d", "dw1", "x", kernel_size=3, strides=2, padding="same"),
    layer("depthwise_conv2d", "dw2", "dw1", kernel_size=5, padding="same", activation="relu"),
])

case("dw2d_mult2_dilated", {"x": [1, 11, 11, 5]}, [
    layer("depthwise_conv2d", "dw1", "x", kernel_size=3, dilation_rate=2, depth_multiplier=2,
          activation="relu"),
    layer("depthwise_conv2d", "dw2", "dw1", kernel_size=3, dilation_rate=[2, 2], padding="same",
          depth_multiplier=2),
])

case("dw1d_mult2_dilated", {"x": [1, 17, 6]}, [
    layer("depthwise_conv1d", "dw1", "x", kernel_size=5, dilation_rate=2, padding="same",
          depth_multiplier=2),
    layer("depthwise_conv1d", "dw2", "dw1", kernel_size=[3], strides=2, padding=[[2, 1]],
          use_bias=False, activation="relu6"),
], input_scale=3.0)

case("sep2d_mult2_s2_dilated", {"x": [1, 13, 13, 6]}, [
    layer("separable_conv2d", "sep1", "x", filters=10, kernel_size=3, strides=2, padding="same",
          depth_multiplier=2, activation="hard_swish"),
    layer("separable_conv2d", "sep2", "sep1", filters=12, kernel_size=3, dilation_rate=2,
          padding=[[1, 1], [1, 1]], activation="sigmoid"),
], input_scale=2.0)

# Batch 1, depth multiplier 1, a 1x1 conv with filters a multiple of 16 fed only by the
# depthwise conv: the shape x86 lowers as one fused separable kernel (fuse-separable), on a
# 10x13 image and 24 channels, neither a multiple of the vector width.
case("fused_separable_f32_f48", {"x": [1, 10, 13, 24]}, [
    layer("depthwise_conv2d", "dw", "x", kernel_size=3, padding="same", activation="relu6"),
    layer("conv2d", "pw", "dw", filters=32, kernel_size=1, activation="relu6"),
    layer("separable_conv2d", "sep", "pw", filters=48, kernel_size=3, strides=2, padding="same",
          activation="relu"),
], input_scale=2.0)

# Filters that are no multiple of the 16-filter panel: x86 fuses them with a last panel
# padded by zero filters (72 -> 80, 1-D too), and drops them by a view the next layer reads.
# 40 channels: the depthwise tile is cut into 32 + 8 channel pieces.
case("fused_separable_padded_panels", {"x": [1, 7, 9, 40]}, [
    layer("separable_conv2d", "sep", "x", filters=72, kernel_size=3, padding="same",
          activation="relu6"),
    layer("separable_conv2d", "sep2", "sep", filters=136, kernel_size=5, padding="same",
          activation="hard_swish"),
    layer("add", "sum", ["sep2", "sep2"]),
], outputs=["sum", "sep"], input_scale=2.0)

case("sep1d_kws", {"x": [1, 25, 10]}, [
    *with_bn("conv1d", "conv", "x", activation="relu", filters=24, kernel_size=3, padding="same"),
    layer("separable_conv1d", "sep1", "conv_bn", filters=24, kernel_size=9, padding="same",
          activation="relu"),
    *with_bn("separable_conv1d", "sep2", "sep1", activation="relu", filters=32, kernel_size=5,
             strides=2, padding="same"),
    layer("global_average_pooling1d", "gap", "sep2_bn"),
    layer("dense", "logits", "gap", units=12, activation="softmax"),
])

# ---------------------------------------------------------------------------- elementwise

case("batch_norm_standalone_batch2", {"x": [2, 7, 7, 24]}, [
    # Neither batch norm follows a layer it could be folded into.
    layer("batch_norm", "bn1", "x", epsilon=1e-5, activation="relu6"),
    layer("depthwise_conv2d", "dw", "bn1", kernel_size=3, padding="same"),
    layer("add", "sum", ["bn1", "dw"]),
    layer("batch_norm", "bn2", "sum", activation="hard_swish"),
], input_scale=3.0)

# The spec's activations, then sepc's extensions (docs/model-json.md).
ACTIVATIONS = ("linear", "relu", "relu6", "hard_swish", "sigmoid", "tanh", "softmax",
               "hard_sigmoid", "swish", "silu")

case("activations", {"x": [1, 7, 10, 5]}, [
    layer("activation", f"act_{name}", "x", activation=name) for name in ACTIVATIONS
], outputs=[f"act_{name}" for name in ACTIVATIONS], input_scale=4.0)

case("extension_activations_fused", {"x": [1, 10, 10, 24]}, [
    # An EfficientNet-style swish depthwise conv into a 1x1 conv (the fused kernel on x86,
    # both activations applied in registers), and a silu dense layer.
    layer("depthwise_conv2d", "dw", "x", kernel_size=3, padding="same", activation="swish"),
    layer("conv2d", "pw", "dw", filters=32, kernel_size=1, activation="hard_sigmoid"),
    layer("global_average_pooling2d", "gap", "pw"),
    layer("dense", "fc", "gap", units=10, activation="silu"),
], outputs=["pw", "fc"], input_scale=3.0)

case("add_two_and_three_inputs", {"x": [1, 9, 9, 8], "z": [1, 9, 9, 8]}, [
    layer("depthwise_conv2d", "a", "x", kernel_size=3, padding="same"),
    layer("add", "sum2", ["a", "z"], activation="relu"),
    layer("conv2d", "b", "z", filters=8, kernel_size=1),
    layer("add", "sum3", ["x", "b", "sum2"], activation="relu6"),
], outputs=["sum3", "sum2"], input_scale=2.0)

# ---------------------------------------------------------------------------- extensions
# sepc's extension ops (docs/model-json.md).

case("extension_squeeze_excite_rescaling", {"x": [1, 10, 9, 3]}, [
    # Keras preprocessing: Rescaling, then Normalization as per-channel scale and offset.
    layer("rescaling", "pixels", "x", scale=1 / 127.5, offset=-1),
    layer("rescaling", "normalize", "pixels", scale=[1.5, 0.8, 1.2], offset=[0.1, -0.2, 0.3]),
    layer("conv2d", "stem", "normalize", filters=24, kernel_size=3, strides=2, padding="same",
          activation="hard_swish"),
    # MobileNetV3's squeeze-excite: the scale broadcast over the spatial axes.
    layer("global_average_pooling2d", "squeeze", "stem", keepdims=True),
    layer("conv2d", "reduce", "squeeze", filters=8, kernel_size=1, activation="relu"),
    layer("conv2d", "expand", "reduce", filters=24, kernel_size=1),
    layer("rescaling", "gate", "expand", scale=1, offset=3, activation="relu6"),
    layer("rescaling", "gate6", "gate", scale=1 / 6),
    layer("multiply", "excited", ["stem", "gate6"]),
    layer("multiply", "squared", ["excited", "excited"], activation="swish"),
], outputs=["squared", "gate6"], input_scale=100.0, input_offset=127.0)

case("extension_concatenate_cropping", {"x": [1, 9, 9, 16], "z": [1, 8, 8, 5]}, [
    # DenseNet's growing concatenation, and NASNet's cropping of a padded branch.
    layer("conv2d", "grow", "x", filters=8, kernel_size=3, padding="same", activation="relu"),
    layer("concatenate", "features", ["x", "grow"]),
    layer("cropping2d", "crop", "features", cropping=[[1, 0], [0, 1]]),
    layer("concatenate", "joined", ["z", "crop", "z"]),
    layer("conv2d", "mix", "joined", filters=16, kernel_size=1),
], outputs=["mix", "crop"])

# ---------------------------------------------------------------------------- padding, pooling

case("max_pooling_valid_same", {"x": [1, 13, 13, 5]}, [
    layer("max_pooling2d", "mp1", "x", pool_size=3, strides=2, padding="same"),
    layer("max_pooling2d", "mp2", "mp1", pool_size=2),
    layer("max_pooling2d", "mp3", "x", pool_size=[3, 2], strides=[1, 2], padding="valid"),
], outputs=["mp2", "mp3", "mp1"], input_offset=-4.0)

case("average_pooling_valid_same", {"x": [1, 13, 10, 6]}, [
    layer("average_pooling2d", "ap1", "x", pool_size=3, strides=2, padding="same"),
    layer("average_pooling2d", "ap2", "x", pool_size=[2, 3], strides=[2, 1]),
    # 13 rows with windows of 2: the last window holds one real row and divides by it.
    layer("average_pooling2d", "ap3", "x", pool_size=2, padding="same"),
], outputs=["ap1", "ap2", "ap3"], input_offset=1.0)

case("zero_padding_keras_stride2", {"x": [1, 10, 10, 16]}, [
    # Keras' MobileNet pads explicitly, then runs the stride-2 depthwise conv `valid`.
    layer("zero_padding2d", "pad", "x", padding=[[0, 1], [0, 1]]),
    *with_bn("depthwise_conv2d", "dw", "pad", kernel_size=3, strides=2, padding="valid"),
    *with_bn("conv2d", "pw", "dw_bn", filters=24, kernel_size=1),
    layer("zero_padding2d", "pad2", "x", padding=[[1, 2], [3, 0]]),
], outputs=["pw_bn", "pad2"], input_scale=2.0)

# ---------------------------------------------------------------------------- heads

case("head_gap2d_keepdims", {"x": [1, 7, 7, 40]}, [
    layer("global_average_pooling2d", "gap", "x", keepdims=True),
    layer("conv2d", "logits", "gap", filters=10, kernel_size=1),
    layer("reshape", "flat", "logits", target_shape=[10]),
    layer("activation", "probs", "flat", activation="softmax"),
    layer("global_average_pooling2d", "gap2", "x", keepdims=False),
    layer("dense", "fc", "gap2", units=10, activation="relu"),
], outputs=["probs", "fc"], input_offset=0.5)

case("dense_rank4_reshape_batch2", {"x": [2, 5, 7, 6]}, [
    layer("dense", "fc1", "x", units=9, activation="relu"),
    layer("reshape", "rows", "fc1", target_shape=[35, 9]),
    layer("global_average_pooling1d", "gap", "rows", keepdims=True),
    layer("reshape", "flat", "gap", target_shape=[9]),
    layer("dense", "fc2", "flat", units=4, activation="sigmoid"),
])

# ---------------------------------------------------------------------------- blocks

case("mobilenet_v1_block", {"x": [1, 20, 20, 3]}, [
    *with_bn("conv2d", "stem", "x", filters=16, kernel_size=3, strides=2, padding="same"),
    *with_bn("depthwise_conv2d", "dw1", "stem_bn", kernel_size=3, padding="same"),
    *with_bn("conv2d", "pw1", "dw1_bn", filters=24, kernel_size=1),
    *with_bn("depthwise_conv2d", "dw2", "pw1_bn", kernel_size=3, strides=2, padding="same"),
    *with_bn("conv2d", "pw2", "dw2_bn", filters=40, kernel_size=1),
])

case("mobilenet_v2_residual", {"x": [1, 10, 10, 24]}, [
    *with_bn("conv2d", "expand", "x", filters=64, kernel_size=1),
    *with_bn("depthwise_conv2d", "dw", "expand_bn", kernel_size=3, padding="same"),
    *with_bn("conv2d", "project", "dw_bn", activation="linear", filters=24, kernel_size=1),
    layer("add", "residual", ["x", "project_bn"]),
])

case("xception_pool_add", {"x": [1, 13, 13, 16]}, [
    layer("activation", "act", "x", activation="relu"),
    *with_bn("separable_conv2d", "sep1", "act", activation="relu", filters=32, kernel_size=3,
             padding="same"),
    *with_bn("separable_conv2d", "sep2", "sep1_bn", activation="linear", filters=32,
             kernel_size=3, padding="same"),
    layer("max_pooling2d", "pool", "sep2_bn", pool_size=3, strides=2, padding="same"),
    *with_bn("conv2d", "shortcut", "x", activation="linear", filters=32, kernel_size=1, strides=2),
    layer("add", "res", ["pool", "shortcut_bn"]),
])


# ============================================================================ data

def case_seed(name: str) -> int:
    return zlib.crc32(name.encode())


def make_weights(model: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """float32 parameters, kernels with variance 1/fan-in so outputs stay O(1) through a block
    and the tolerance's floor of 1 stays meaningful; batch-norm variances away from zero."""
    weights = {}
    for key, shape in parameter_shapes(model).items():
        kind = key.rsplit("/", 1)[1]
        if kind == "depthwise_kernel":
            # A depthwise output sums the spatial taps of one channel only.
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[:-2]))
        elif kind in ("kernel", "pointwise_kernel"):
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[:-1]))
        elif kind in ("bias", "beta", "moving_mean"):
            value = 0.5 * rng.standard_normal(shape)
        elif kind in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            raise ValueError(f"no rule for parameter {key!r}")
        weights[key] = value.astype(np.float32)
    return weights


def build_case(name: str) -> tuple[dict, dict, dict, dict]:
    """(model.json dict, weights, inputs, expected outputs) of one case, all float32."""
    spec = CASES[name]
    model = json.loads(json.dumps(spec["model"]))
    rng = np.random.default_rng(case_seed(name))
    weights = make_weights(model, rng)
    inputs = {n: (spec["input_scale"] * rng.standard_normal(s["shape"]) + spec["input_offset"])
              .astype(np.float32) for n, s in model["inputs"].items()}
    if weights:
        # The spec's order of top-level fields, so the file reads like its example.
        model = {**{k: model[k] for k in ("sepc", "name", "inputs")}, "weights": "weights.npz",
                 "layers": model["layers"], "outputs": model["outputs"]}
    # The reference reads the float32 values the compiled model will read.
    expected = {n: v.astype(np.float32) for n, v in run_reference(model, weights, inputs).items()}
    return model, weights, inputs, expected


# ============================================================================ writing

def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """What np.savez writes (members NAME.npy, stored), minus the wall-clock timestamps."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, _npy_bytes(array))


def write_case(name: str, folder: Path) -> None:
    model, weights, inputs, expected = build_case(name)
    if folder.exists():
        shutil.rmtree(folder)            # an output renamed since the last run leaves no stale file
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps(model, indent=1) + "\n")
    if weights:
        write_npz(folder / "weights.npz", weights)
    for prefix, arrays in (("input", inputs), ("expected", expected)):
        for key, array in arrays.items():
            (folder / f"{prefix}.{key}.npy").write_bytes(_npy_bytes(array))


def write_all(out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    for stale in sorted(p.parent for p in out.glob("*/model.json")):
        if stale.name not in CASES:
            shutil.rmtree(stale)
    for name in CASES:
        write_case(name, out / name)
    return list(CASES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder that receives one folder per case (default: %(default)s)")
    args = parser.parse_args()
    names = write_all(args.out)
    print(f"wrote {len(names)} cases to {args.out}")


if __name__ == "__main__":
    main()
