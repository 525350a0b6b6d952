"""Shared machinery of the Python tests: build a model on disk, compile it with sepc, run it
and compare every output with the float64 reference interpreter (reference.py).

Targets: every test that takes a `target` argument runs once per target listed in
`--sepc-targets` (comma separated) or, failing that, the SEPC_TEST_TARGETS environment
variable; the default is `host`. A library for another architecture (arm-neon, arm-sve on
x86) cannot be loaded in-process, so it runs through `sepc run`, which uses qemu;
SEPC_TEST_SVE_VL picks the emulated SVE vector length for those runs.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import parameter_shapes, run_reference  # noqa: E402

# The acceptance rule of the spec: max |got - want| / max(1, max |want|) per output.
TOLERANCE = 1e-4


def pytest_addoption(parser):
    parser.addoption("--sepc-targets", default=None,
                     help="comma-separated sepc targets for the compile tests "
                          "(default: $SEPC_TEST_TARGETS or 'host')")


def selected_targets(config) -> list[str]:
    listed = config.getoption("--sepc-targets") or os.environ.get("SEPC_TEST_TARGETS") or "host"
    return [t.strip() for t in listed.split(",") if t.strip()]


def pytest_generate_tests(metafunc):
    if "target" in metafunc.fixturenames:
        metafunc.parametrize("target", selected_targets(metafunc.config))


# ----------------------------------------------------------------------------- model data

def random_weights(model: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """float32 parameters for every layer of `model`, scaled so activations stay O(1).

    Kernels are normal with variance 1/fan-in, so deep stacks neither explode nor vanish and
    the absolute tolerance stays meaningful; batch-norm statistics are kept away from zero
    variance so the normalisation is well conditioned.
    """
    rng = np.random.default_rng(seed)
    weights = {}
    for key, shape in parameter_shapes(model).items():
        kind = key.rsplit("/", 1)[1]
        if kind == "depthwise_kernel":
            # Each output of a depthwise conv sums only the spatial taps of one channel.
            fan_in = int(np.prod(shape[:-2]))
            value = rng.standard_normal(shape) / np.sqrt(fan_in)
        elif kind in ("kernel", "pointwise_kernel"):
            fan_in = int(np.prod(shape[:-1]))
            value = rng.standard_normal(shape) / np.sqrt(fan_in)
        elif kind in ("bias", "beta", "moving_mean"):
            value = 0.5 * rng.standard_normal(shape)
        elif kind in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            raise ValueError(f"no rule to make parameter {key!r}")
        weights[key] = value.astype(np.float32)
    return weights


def random_inputs(model: dict, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(spec["shape"]).astype(np.float32)
            for name, spec in model["inputs"].items()}


def make_model(name: str, inputs: dict[str, list[int]], layers: list[dict],
               outputs: list[str] | None = None) -> dict:
    """A model.json dict; `outputs` defaults to the last layer."""
    return {
        "sepc": 1,
        "name": name,
        "inputs": {n: {"shape": list(shape), "dtype": "float32"} for n, shape in inputs.items()},
        "layers": layers,
        "outputs": outputs if outputs is not None else [layers[-1]["name"]],
    }


# ----------------------------------------------------------------------------- compile and run

def write_model(model: dict, weights: dict[str, np.ndarray], folder: Path) -> Path:
    """Write model.json (+ weights.npz when there are parameters) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    model = dict(model)
    if weights:
        np.savez(folder / "weights.npz", **weights)
        model["weights"] = "weights.npz"
    path = folder / "model.json"
    path.write_text(json.dumps(model, indent=1))
    return path


def _run_in_process(manifest_path: str, inputs):
    import sepc_runtime

    compiled = sepc_runtime.load(manifest_path)
    return compiled.run(dict(inputs))


def _run_through_cli(manifest_path: str, inputs, folder: Path):
    """For foreign-architecture libraries: `sepc run` loads them under qemu."""
    manifest = json.loads(Path(manifest_path).read_text())
    out_dir = folder / "out"
    out_dir.mkdir(exist_ok=True)
    command = ["sepc", "run", manifest_path, "--output-dir", str(out_dir)]
    for name, value in inputs.items():
        input_path = folder / f"input.{name}.npy"
        np.save(input_path, value)
        command += ["--input", f"{name}={input_path}"]
    if os.environ.get("SEPC_TEST_SVE_VL"):
        command += ["--sve-vl", os.environ["SEPC_TEST_SVE_VL"]]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, f"sepc run failed ({finished.returncode}): {finished.stderr}"
    return {spec["name"]: np.load(out_dir / f"{spec['name']}.npy") for spec in manifest["outputs"]}


def compile_and_run(model: dict, weights: dict[str, np.ndarray], inputs: dict[str, np.ndarray],
                    folder: Path, target: str = "host") -> dict[str, np.ndarray]:
    """Compile `model` for `target` with sepc and run it once on `inputs`."""
    from sepc.driver import compile_file

    model_path = write_model(model, weights, folder)
    manifest_path = str(compile_file(str(model_path), target=target, out_dir=str(folder / "build")))
    arch = json.loads(Path(manifest_path).read_text())["arch"]
    if arch == platform.machine():
        return _run_in_process(manifest_path, inputs)
    return _run_through_cli(manifest_path, inputs, folder)


def scaled_error(got: np.ndarray, want: np.ndarray) -> float:
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale


def assert_matches_reference(model: dict, folder: Path, target: str = "host",
                             weights: dict[str, np.ndarray] | None = None,
                             inputs: dict[str, np.ndarray] | None = None, seed: int = 0):
    """Compile and run `model`, then check every output against the float64 reference.

    Weights and inputs are random (deterministic in `seed`) unless given.
    """
    weights = random_weights(model, seed) if weights is None else weights
    inputs = random_inputs(model, seed + 1) if inputs is None else inputs
    want = run_reference(model, weights, inputs)
    got = compile_and_run(model, weights, inputs, folder, target)
    assert set(got) == set(model["outputs"]), \
        f"outputs {sorted(got)}, model says {model['outputs']}"
    for name in model["outputs"]:
        assert got[name].dtype == np.float32, f"{name}: dtype {got[name].dtype}"
        assert got[name].shape == want[name].shape, \
            f"{name}: shape {got[name].shape}, reference {want[name].shape}"
        error = scaled_error(got[name], want[name])
        assert error <= TOLERANCE, f"{name} [{target}]: scaled max error {error:.3g} > {TOLERANCE}"


@pytest.fixture
def check(tmp_path, target):
    """check(model, **options): assert_matches_reference in this test's tmp_path and target."""
    def run(model, **options):
        return assert_matches_reference(model, tmp_path, target, **options)
    return run
