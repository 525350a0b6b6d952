"""x86-avx512 libraries on a machine without AVX-512: the bochscpu emulator
(sepc_runtime.x86_emulator) runs them correctly and catches out-of-bounds accesses.

Skipped when bochscpu-python (pip install bochscpu-python==0.4.0) is not importable."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sepc_runtime import x86_emulator
from golden_cases import REPO_CASES_ROOT

pytestmark = pytest.mark.skipif(not x86_emulator.bochscpu_available(),
                                reason="bochscpu-python is not importable")

SEPC = [sys.executable, "-m", "sepc"]
TOLERANCE = 1e-4
# Small cases that between them use masked tails, broadcasts, vpermps and fused activations.
CASES = ("mobilenet_v1_block", "extension_activations_fused", "xception_pool_add")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Case name -> the manifest of its x86-avx512 build."""
    out = tmp_path_factory.mktemp("x86_avx512")
    manifests = {}
    for name in CASES:
        case = REPO_CASES_ROOT / name
        model = json.loads((case / "model.json").read_text())
        done = subprocess.run([*SEPC, "compile", case / "model.json", "--target", "x86-avx512",
                               "-o", out / name], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        manifests[name] = out / name / f"{model['name']}.json"
    return manifests


def scaled_error(got: np.ndarray, want: np.ndarray) -> float:
    want = want.astype(np.float64)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale


def test_emulated_cpu_has_avx512(compiled):
    flags = x86_emulator.emulated_cpu_flags()
    manifest = json.loads(compiled["mobilenet_v1_block"].read_text())
    assert set(manifest["required_cpu_flags"]) <= flags
    assert {"avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"} <= flags


@pytest.mark.parametrize("name", CASES)
def test_golden_case(compiled, name):
    case = REPO_CASES_ROOT / name
    model = json.loads((case / "model.json").read_text())
    arrays = {n: np.load(case / f"input.{n}.npy") for n in model["inputs"]}
    outputs = x86_emulator.run_manifest_x86_emulated(compiled[name], arrays)
    assert set(outputs) == set(model["outputs"])
    for n in model["outputs"]:
        want = np.load(case / f"expected.{n}.npy")
        got = outputs[n]
        assert got.dtype == np.float32 and got.shape == want.shape
        error = scaled_error(got, want)
        assert error <= TOLERANCE, f"{name}/{n}: scaled error {error:.3g}"


def manifest_fields(path: Path) -> tuple[str, str, list, list]:
    manifest = json.loads(path.read_text())
    return (str(path.parent / manifest["library"]), manifest["entry"],
            [tuple(t["shape"]) for t in manifest["inputs"]],
            [tuple(t["shape"]) for t in manifest["outputs"]])


def test_output_buffer_too_small_is_caught(compiled):
    library, entry, in_shapes, out_shapes = manifest_fields(compiled["mobilenet_v1_block"])
    x = np.random.default_rng(0).standard_normal(in_shapes[0]).astype(np.float32)
    # The right size runs; one row less and the library's stores run off the buffer's end
    # into the unmapped page after it.
    x86_emulator.run_x86_emulated(library, entry, [x], out_shapes)
    short = (out_shapes[0][0], out_shapes[0][1] - 1, *out_shapes[0][2:])
    with pytest.raises(x86_emulator.GuestMemoryError, match=r"write .*past the end of output 0"):
        x86_emulator.run_x86_emulated(library, entry, [x], [short])


def test_input_buffer_too_small_is_caught(compiled):
    library, entry, in_shapes, out_shapes = manifest_fields(compiled["mobilenet_v1_block"])
    short = (in_shapes[0][0], in_shapes[0][1] - 1, *in_shapes[0][2:])
    x = np.ones(short, dtype=np.float32)
    with pytest.raises(x86_emulator.GuestMemoryError, match=r"read .*past the end of input 0"):
        x86_emulator.run_x86_emulated(library, entry, [x], out_shapes)
