"""ARM targets as a user on an x86 machine meets them: one vector-length-agnostic SVE
library that runs correctly at every vector length, NEON, and clear errors when the cross
tools are missing."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sepc_runtime
from sepc_runtime import emulator
from conftest import make_model, random_inputs, random_weights
from reference import run_reference

SEPC = [sys.executable, "-m", "sepc"]
VECTOR_LENGTHS = (128, 256, 512, 2048)

# Channel counts that are no multiple of any vector length: every loop has a masked tail.
BLOCK = make_model("arm_block", {"x": [1, 9, 11, 12]}, [
    {"name": "dw", "op": "depthwise_conv2d", "input": "x", "kernel_size": 3, "padding": "same",
     "activation": "relu6"},
    {"name": "pw", "op": "conv2d", "input": "dw", "filters": 20, "kernel_size": 1,
     "activation": "hard_swish"},
])


def build(tmp_path: Path, target: str) -> tuple[Path, dict, dict]:
    weights, inputs = random_weights(BLOCK, 3), random_inputs(BLOCK, 4)
    (tmp_path / "model.json").write_text(json.dumps(dict(BLOCK, weights="w.npz")))
    np.savez(tmp_path / "w.npz", **weights)
    np.save(tmp_path / "x.npy", inputs["x"])
    done = subprocess.run([*SEPC, "compile", tmp_path / "model.json", "--target", target,
                           "-o", tmp_path / "build"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return tmp_path / "build" / "arm_block.json", weights, inputs


def run(manifest: Path, out: Path, *extra: str) -> np.ndarray:
    done = subprocess.run([*SEPC, "run", manifest,
                           "--input", f"x={manifest.parent.parent / 'x.npy'}",
                           "--output-dir", out, *extra], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return np.load(out / "pw.npy")


def assert_close(got, want):
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(got - want).max() / scale <= 1e-4


def test_one_sve_library_runs_correctly_at_every_vector_length(tmp_path):
    manifest, weights, inputs = build(tmp_path, "arm-sve")
    library_bytes = (manifest.parent / "arm_block.so").read_bytes()
    want = run_reference(BLOCK, weights, inputs)["pw"]
    for bits in VECTOR_LENGTHS:
        assert_close(run(manifest, tmp_path / f"out{bits}", "--sve-vl", str(bits)), want)
    assert (manifest.parent / "arm_block.so").read_bytes() == library_bytes


def test_the_harness_reports_the_vector_length_it_ran_at(tmp_path):
    manifest, _, inputs = build(tmp_path, "arm-sve")
    loaded = sepc_runtime.read_manifest(str(manifest))
    for bits in (128, 1024):
        _, seen = emulator.run_emulated(loaded, inputs, bits)
        assert seen == bits


def test_neon_library_runs_under_qemu(tmp_path):
    manifest, weights, inputs = build(tmp_path, "arm-neon")
    assert json.loads(manifest.read_text())["arch"] == "aarch64"
    assert_close(run(manifest, tmp_path / "out"), run_reference(BLOCK, weights, inputs)["pw"])


@pytest.mark.parametrize("arm_target", ["arm-neon", "arm-sve"])
def test_missing_cross_linker_names_the_package_to_install(tmp_path, arm_target):
    (tmp_path / "model.json").write_text(json.dumps(BLOCK))
    env = dict(os.environ, PATH=str(tmp_path))  # no aarch64-linux-gnu-gcc on this PATH
    done = subprocess.run([*SEPC, "compile", tmp_path / "model.json", "--target", arm_target,
                           "--random-weights", "0", "-o", tmp_path / "build"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "gcc-aarch64-linux-gnu" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "build").exists()
