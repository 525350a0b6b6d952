"""Layer parameters: read them from the model's .npz, or make deterministic random ones.

model_json.py decides which parameters each layer needs (a ParamSpec per array); this
module fills `Layer.params` with float32, C-contiguous arrays of exactly those shapes and
rejects an .npz that disagrees with the model in any way (see spec/model-json.md).
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass

import numpy as np

from sepc.errors import UserError, where
from sepc.frontend.graph import Layer

@dataclass(frozen=True)
class ParamSpec:
    """One array a layer needs: its .npz key is `LAYER/name`."""
    name: str                 # "kernel", "bias", "depthwise_kernel", "gamma", ...
    shape: tuple[int, ...]
    layout: str               # axis meanings for messages, e.g. "(KH, KW, C, M)"
    init: str                 # how random weights draw it: a key of RANDOM_INITS
    fan_in: int = 1           # inputs feeding one output, for the He-normal scale


# Draws for --random-weights: He-normal kernels keep activations in a sane range through
# deep stacks; batch-norm statistics stay near identity so outputs are neither 0 nor huge.
RANDOM_INITS = {
    "he_normal": lambda rng, spec: rng.standard_normal(spec.shape) * math.sqrt(2.0 / spec.fan_in),
    "small_normal": lambda rng, spec: rng.standard_normal(spec.shape) * 0.1,
    "near_one": lambda rng, spec: rng.uniform(0.5, 1.5, spec.shape),
}


def attach_random_params(layers: list[tuple[Layer, list[ParamSpec]]], seed: int) -> None:
    """Deterministic parameters: layers in model order, each layer's specs in order."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UserError(f"random weights seed {seed!r}: expected a non-negative integer")
    rng = np.random.default_rng(seed)
    for layer, specs in layers:
        for spec in specs:
            draw = RANDOM_INITS[spec.init](rng, spec)
            layer.params[spec.name] = np.ascontiguousarray(draw, dtype=np.float32)


def attach_npz_params(layers: list[tuple[Layer, list[ParamSpec]]], npz_path: str,
                      model_path: str) -> None:
    """Reads every `LAYER/PARAM` key the layers need; any other key is an error."""
    archive = _open_npz(npz_path, model_path)
    with archive:
        keys = set(archive.files)
        for layer, specs in layers:
            for spec in specs:
                key = f"{layer.name}/{spec.name}"
                if key not in keys:
                    _fail_missing(npz_path, layer, key, keys)
                layer.params[spec.name] = _checked_array(archive, key, spec, layer, npz_path)
                keys.discard(key)
        if keys:
            _fail_unexpected(npz_path, min(keys), layers)


def _open_npz(npz_path: str, model_path: str) -> np.lib.npyio.NpzFile:
    try:
        archive = np.load(npz_path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{where(model_path, field='weights')}: file '{npz_path}' does not exist, "
                        "expected the .npz holding the layer parameters") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(f"{npz_path}: unreadable ({e}), expected a NumPy .npz archive") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise UserError(f"{npz_path}: a single .npy array, expected a NumPy .npz archive "
                        "(np.savez) with one key per parameter")
    return archive


def _checked_array(archive: np.lib.npyio.NpzFile, key: str, spec: ParamSpec, layer: Layer,
                   npz_path: str) -> np.ndarray:
    prefix = where(npz_path, layer.name, layer.index, key)
    try:
        array = archive[key]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(f"{prefix}: unreadable ({e}), expected a float array") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise UserError(f"{prefix}: dtype {array.dtype}, expected a floating-point array")
    if array.shape != spec.shape:
        raise UserError(f"{prefix}: shape {format_shape(array.shape)}, "
                        f"expected {format_shape(spec.shape)} = {spec.layout}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _fail_missing(npz_path: str, layer: Layer, key: str, keys: set[str]) -> None:
    present = sorted(k for k in keys if k.startswith(layer.name + "/"))
    found = f"missing (keys for this layer: {', '.join(present)})" if present else "missing"
    raise UserError(f"{where(npz_path, layer.name, layer.index, key)}: {found}, "
                    "expected a float array")


def _fail_unexpected(npz_path: str, key: str,
                     layers: list[tuple[Layer, list[ParamSpec]]]) -> None:
    """A key that no layer consumed: a typo or a model/.npz mismatch, never ignored."""
    layer_name = key.rpartition("/")[0]
    owner = next(((layer, specs) for layer, specs in layers if layer.name == layer_name), None)
    if owner is None:
        raise UserError(f"{where(npz_path, field=key)}: matches no layer, "
                        "expected keys of the form LAYER/PARAM for layers with parameters")
    layer, specs = owner
    prefix = where(npz_path, layer.name, layer.index, key)
    # A bias next to use_bias=false means model and .npz disagree; using it or dropping it
    # could both be wrong, so the user has to say which.
    if key.endswith("/bias") and layer.attrs.get("use_bias") is False:
        raise UserError(f"{prefix}: unexpected key, expected no bias since the layer has "
                        "use_bias false (set use_bias to true or drop the key)")
    wanted = ", ".join(f"{layer.name}/{spec.name}" for spec in specs)
    expected = f"only {wanted}" if wanted else f"no keys (op '{layer.op}' has no parameters)"
    raise UserError(f"{prefix}: unexpected key, expected {expected}")


def format_shape(shape: tuple[int, ...]) -> str:
    """(3, 3, 8, 1): also for 1-element shapes, where Python would print (8,)."""
    return "(" + ", ".join(str(d) for d in shape) + ")"
