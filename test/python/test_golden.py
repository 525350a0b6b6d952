"""The repository's golden cases (test/golden/cases) against their generator: the committed
files are exactly what test/golden/generate.py writes from reference.py today, so they can
never drift from the reference, and together they use every op and option of model.json v1.
(test/golden/check.py runs them through the compiler; test/run_tests.sh does, per target.)
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golden_cases import GOLDEN_ROOT, REPO_CASES, REPO_CASES_ROOT, SPEC_MODEL_JSON
from reference import run_reference

GENERATE = GOLDEN_ROOT / "generate.py"

# The op column of the layer table in the spec (shared/spec/model-json.md, "## Layers"). Kept
# here so that a clone without the shared folder checks coverage too; when the spec is
# present, the test below also holds this list to it.
SPEC_OPS = {
    "conv2d", "depthwise_conv2d", "separable_conv2d", "conv1d", "depthwise_conv1d",
    "separable_conv1d", "batch_norm", "activation", "add", "zero_padding2d", "max_pooling2d",
    "average_pooling2d", "global_average_pooling2d", "global_average_pooling1d", "reshape",
    "dense",
}
SPEC_ACTIVATIONS = {"linear", "relu", "relu6", "hard_swish", "sigmoid", "tanh", "softmax"}
# sepc's extensions of the spec (docs/model-json.md)
EXTENSION_ACTIVATIONS = {"hard_sigmoid", "swish", "silu"}
EXTENSION_OPS = {"multiply", "rescaling", "concatenate", "cropping2d"}
CONVS = {"conv2d", "depthwise_conv2d", "separable_conv2d", "conv1d", "depthwise_conv1d",
         "separable_conv1d"}
POOLS = {"max_pooling2d", "average_pooling2d"}
FOLDABLE_INTO = CONVS | {"dense"}


def _wider_than_one(value) -> bool:
    return any(v > 1 for v in ([value] if isinstance(value, int) else value))


def _padding_kind(layer) -> str:
    padding = layer.get("padding", "valid")
    return padding if isinstance(padding, str) else "explicit"


def _padded(ops, kind):
    return lambda m, l, seen: l["op"] in ops and _padding_kind(l) == kind


def _activated(name):
    return lambda m, l, seen: l.get("activation", "linear") == name


def _folded_batch_norm(layer, seen) -> bool:
    """A batch_norm after a bias-free layer it can be folded into (fold-batch-norm's case)."""
    source = seen.layers.get(layer.get("input"))
    return (layer["op"] == "batch_norm" and source is not None
            and source["op"] in FOLDABLE_INTO and source.get("use_bias", True) is False)


def _spatial(size):
    return lambda m: any(size in s["shape"][1:-1] for s in m["inputs"].values())


# Options of the format, as predicates on (model, layer, Seen of the model).
LAYER_FEATURES = {
    "conv padding valid": _padded(CONVS, "valid"),
    "conv padding same": _padded(CONVS, "same"),
    "conv padding explicit": _padded(CONVS, "explicit"),
    "max_pooling2d padding valid": _padded({"max_pooling2d"}, "valid"),
    "max_pooling2d padding same": _padded({"max_pooling2d"}, "same"),
    "average_pooling2d padding valid": _padded({"average_pooling2d"}, "valid"),
    "average_pooling2d padding same": _padded({"average_pooling2d"}, "same"),
    "conv stride > 1": lambda m, l, seen: l["op"] in CONVS and _wider_than_one(l.get("strides", 1)),
    "pool strides != pool_size": lambda m, l, seen: l["op"] in POOLS and "strides" in l
                                                  and l["strides"] != l["pool_size"],
    "pool default strides": lambda m, l, seen: l["op"] in POOLS and "strides" not in l,
    "dilation > 1": lambda m, l, seen: l["op"] in CONVS
                                       and _wider_than_one(l.get("dilation_rate", 1)),
    "depth_multiplier 2": lambda m, l, seen: l.get("depth_multiplier", 1) == 2,
    "use_bias false": lambda m, l, seen: l.get("use_bias", True) is False,
    "keepdims true": lambda m, l, seen: l["op"].startswith("global") and l.get("keepdims") is True,
    "keepdims false": lambda m, l, seen: l["op"].startswith("global")
                                         and not l.get("keepdims", False),
    "add of 2": lambda m, l, seen: l["op"] == "add" and len(l["inputs"]) == 2,
    "add of 3": lambda m, l, seen: l["op"] == "add" and len(l["inputs"]) == 3,
    "multiply broadcast over the spatial axes": lambda m, l, seen: l["op"] == "multiply" and len(
        {seen.shapes[name] for name in l["inputs"]}) > 1,
    "multiply of one shape": lambda m, l, seen: l["op"] == "multiply" and len(
        {seen.shapes[name] for name in l["inputs"]}) == 1,
    "rescaling per channel": lambda m, l, seen: l["op"] == "rescaling"
                                                and isinstance(l["scale"], list),
    "rescaling by numbers": lambda m, l, seen: l["op"] == "rescaling"
                                               and not isinstance(l["scale"], list),
    "concatenate of 3": lambda m, l, seen: l["op"] == "concatenate" and len(l["inputs"]) == 3,
    "dense on rank 2": lambda m, l, seen: l["op"] == "dense" and len(seen.shapes[l["input"]]) == 2,
    "dense on rank 4": lambda m, l, seen: l["op"] == "dense" and len(seen.shapes[l["input"]]) == 4,
    "batch_norm folded": lambda m, l, seen: _folded_batch_norm(l, seen),
    "batch_norm standalone with activation": lambda m, l, seen: (
        l["op"] == "batch_norm" and not _folded_batch_norm(l, seen)
        and l.get("activation", "linear") != "linear"),
    **{f"activation {name}": _activated(name)
       for name in sorted(SPEC_ACTIVATIONS | EXTENSION_ACTIVATIONS)},
}
MODEL_FEATURES = {
    "batch 2": lambda m: any(s["shape"][0] == 2 for s in m["inputs"].values()),
    "two or more outputs": lambda m: len(m["outputs"]) >= 2,
    "two inputs": lambda m: len(m["inputs"]) == 2,
    "no weights file": lambda m: "weights" not in m,
    "24 channels": lambda m: any(s["shape"][-1] == 24 for s in m["inputs"].values()),
    "40 channels": lambda m: any(s["shape"][-1] == 40 for s in m["inputs"].values()),
    **{f"spatial {size}": _spatial(size) for size in (7, 10, 13)},
}


@dataclass
class Seen:
    """What a case holds beyond its layer list: its layers by name, and the shape of every
    value (inputs and layers), from running the reference on its own inputs."""
    layers: dict
    shapes: dict


def _seen(case: Path, model: dict) -> Seen:
    every = {**model, "outputs": [*model["inputs"], *(l["name"] for l in model["layers"])]}
    weights = dict(np.load(case / model["weights"])) if "weights" in model else {}
    inputs = {name: np.load(case / f"input.{name}.npy") for name in model["inputs"]}
    values = run_reference(every, weights, inputs)
    return Seen({l["name"]: l for l in model["layers"]}, {n: v.shape for n, v in values.items()})


def _models() -> dict[str, dict]:
    return {case.name: json.loads((case / "model.json").read_text()) for case in REPO_CASES}


def _regenerate(out: Path) -> None:
    done = subprocess.run([sys.executable, str(GENERATE), "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_same_array(got: np.ndarray, want: np.ndarray, where: str) -> None:
    assert (got.dtype, got.shape) == (want.dtype, want.shape), where
    np.testing.assert_array_equal(got, want, err_msg=where)
    assert got.tobytes() == want.tobytes(), f"{where}: same values, other bits (signed zeros?)"


def test_regenerating_reproduces_the_committed_cases(tmp_path):
    _regenerate(tmp_path)
    fresh, committed = _files(tmp_path), _files(REPO_CASES_ROOT)
    assert sorted(fresh) == sorted(committed), \
        "test/golden/cases is not what generate.py writes: rerun it and commit the result"
    # Arrays and parsed JSON rather than bytes: a NumPy upgrade that formats .npy headers
    # differently would change bytes but no golden.
    for name, path in committed.items():
        if name.endswith(".json"):
            assert json.loads(fresh[name].read_text()) == json.loads(path.read_text()), name
        elif name.endswith(".npy"):
            _assert_same_array(np.load(fresh[name]), np.load(path), name)
        else:
            assert name.endswith(".npz"), name
            with np.load(fresh[name]) as got, np.load(path) as want:
                assert got.files == want.files, name
                for key in want.files:
                    _assert_same_array(got[key], want[key], f"{name}:{key}")


def test_generator_is_deterministic_to_the_byte_and_never_imports_sepc(tmp_path):
    # Run as a script, then asked what it imported: a golden made with any help from the
    # compiler would check the compiler against itself. Only what the run added counts, as
    # a sitecustomize (a PYTHONPATH overlay) may have imported sepc before it.
    probe = ("import runpy, sys\n"
             "before = set(sys.modules)\n"
             "sys.argv = ['generate.py', '--out', sys.argv[1]]\n"
             f"runpy.run_path({str(GENERATE)!r}, run_name='__main__')\n"
             "print(sorted(m for m in set(sys.modules) - before\n"
             "             if m.split('.')[0] in ('sepc', 'sepc_runtime')))\n")
    runs = []
    for attempt in ("a", "b"):
        done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / attempt)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1] == "[]", f"generate.py imported {done.stdout}"
        runs.append({name: p.read_bytes() for name, p in _files(tmp_path / attempt).items()})
    assert runs[0].keys() == runs[1].keys()
    changed = [name for name in runs[0] if runs[0][name] != runs[1][name]]
    assert not changed, f"two runs of generate.py wrote different bytes: {changed}"


def test_cases_cover_every_op_and_option_of_the_spec():
    if SPEC_MODEL_JSON.is_file():
        text = SPEC_MODEL_JSON.read_text()
        table = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
        listed = set()
        for row in re.findall(r"^\|([^|]*)\|", table, re.MULTILINE):
            listed |= set(re.findall(r"`([a-z0-9_]+)`", row))
        assert listed == SPEC_OPS, f"SPEC_OPS is out of date with {SPEC_MODEL_JSON}"
    models = _models()
    used = {layer["op"] for model in models.values() for layer in model["layers"]}
    assert SPEC_OPS | EXTENSION_OPS <= used, \
        f"ops in no golden case: {sorted(SPEC_OPS | EXTENSION_OPS - used)}"
    assert used <= SPEC_OPS | EXTENSION_OPS, \
        f"ops neither in the spec nor sepc's extensions: {sorted(used - SPEC_OPS - EXTENSION_OPS)}"
    seen = {name: _seen(REPO_CASES_ROOT / name, model) for name, model in models.items()}
    missing = [feature for feature, holds in LAYER_FEATURES.items()
               if not any(holds(m, l, seen[name])
                          for name, m in models.items() for l in m["layers"])]
    missing += [feature for feature, holds in MODEL_FEATURES.items()
                if not any(holds(m) for m in models.values())]
    assert not missing, f"no golden case has: {missing}"


def test_fused_separable_case_has_the_fused_kernels_shape():
    # fuse-separable (x86) takes a single-use depthwise conv (multiplier 1, batch 1) feeding a
    # stride-1 1x1 conv whose filters are a multiple of 16; keep one case of that shape.
    model = _models()["fused_separable_f32_f48"]
    assert model["inputs"]["x"]["shape"][0] == 1
    dw, pw = model["layers"][0], model["layers"][1]
    assert dw["op"] == "depthwise_conv2d" and dw.get("depth_multiplier", 1) == 1
    assert pw["op"] == "conv2d" and pw["input"] == dw["name"] and pw["kernel_size"] == 1
    assert pw["filters"] % 16 == 0 and pw.get("strides", 1) == 1
    assert sum(dw["name"] in (l.get("input"), *l.get("inputs", ())) for l in model["layers"]) == 1


def test_golden_cases_stay_small():
    total = sum(p.stat().st_size for p in REPO_CASES_ROOT.rglob("*") if p.is_file())
    assert len(REPO_CASES) >= 16 and total < 3_000_000, (len(REPO_CASES), total)
