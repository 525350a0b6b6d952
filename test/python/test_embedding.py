"""Embedding compiled models in C applications (CMakeLists.txt, cmake/SepcModel.cmake,
examples/c): the example app is configured and built by CMake for x86 and cross-built
for aarch64 (NEON and SVE, run under qemu through the toolchain file's emulator), linked
statically with its model, and checked against the float64 reference; it is also called
from 4 threads at once, in C (the app's --concurrent) and in Python (the runtime)."""
import json
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from reference import run_reference

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "mobilenet_v1_block"
TOOLCHAIN = REPO / "cmake" / "toolchains" / "aarch64-linux-gnu.cmake"
BUILDS = {
    "x86": [],
    "arm-neon": [f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}", "-DSEPC_EXAMPLE_ARCH=arm-neon"],
    "arm-sve": [f"-DCMAKE_TOOLCHAIN_FILE={TOOLCHAIN}", "-DSEPC_EXAMPLE_ARCH=arm-sve"],
}
EMULATOR = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-cpu", "max"]
# What the app may load at run time: the C library (and libm), and LLVM's OpenMP runtime
# for the parallel x86 build. Never Python, never MLIR.
ALLOWED_NEEDED = {"libc.so.6", "libm.so.6", "libomp.so.5"}

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None,
                                reason="needs cmake (tools/setup.sh)")


def reference_output() -> np.ndarray:
    model = json.loads((EXAMPLE / "model.json").read_text())
    weights = dict(np.load(EXAMPLE / model["weights"]))
    x = np.load(EXAMPLE / "input.x.npy")
    (name,) = model["outputs"]
    return run_reference(model, weights, {"x": x})[name]


def scaled_error(got: np.ndarray, want: np.ndarray) -> float:
    """The conformance checker's measure: max abs error / max(1, max |want|)."""
    return float(np.abs(got.astype(np.float64) - want).max()) / max(1.0, float(np.abs(want).max()))


@pytest.fixture(scope="module", params=sorted(BUILDS))
def built_app(request, tmp_path_factory):
    build = tmp_path_factory.mktemp(f"cmake-{request.param}")
    configure = subprocess.run(["cmake", "-S", str(REPO), "-B", str(build), *BUILDS[request.param]],
                               capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    make = subprocess.run(["cmake", "--build", str(build), "-j2"], capture_output=True, text=True)
    assert make.returncode == 0, make.stdout + make.stderr
    app = build / "examples" / "c" / "mobilenet_block_app"
    assert app.exists()
    return request.param, app


def run_app(config, app, *args):
    command = ([] if config == "x86" else EMULATOR) + [str(app), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_app_matches_reference(built_app, tmp_path):
    config, app = built_app
    out = tmp_path / "out.npy"
    done = run_app(config, app, EXAMPLE / "input.x.npy", out)
    assert done.returncode == 0, done.stderr
    got = np.load(out)
    want = reference_output()
    assert got.shape == want.shape and got.dtype == np.float32
    assert scaled_error(got, want) <= 1e-4


def test_app_concurrent_calls_from_four_threads(built_app, tmp_path):
    config, app = built_app
    done = run_app(config, app, EXAMPLE / "input.x.npy", tmp_path / "out.npy",
                   "--threads", 2, "--concurrent", 4)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all equal to the single call" in done.stdout
    assert scaled_error(np.load(tmp_path / "out.npy"), reference_output()) <= 1e-4


def test_app_links_the_model_statically(built_app):
    """No libpython, no MLIR library, not even the model's own .so at run time."""
    _, app = built_app
    dynamic = subprocess.run(["readelf", "-d", str(app)], capture_output=True, text=True,
                             check=True)
    needed = {line.split("[")[1].rstrip("]") for line in dynamic.stdout.splitlines()
              if "(NEEDED)" in line}
    assert needed <= ALLOWED_NEEDED, needed
    assert "libc.so.6" in needed
    symbols = subprocess.run(["nm", "-D", "--undefined-only", str(app)], capture_output=True,
                             text=True)
    assert "sepc_mobilenet_v1_block" not in symbols.stdout     # defined inside, not imported


def test_bad_input_file_is_exit_2(built_app, tmp_path):
    config, app = built_app
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((1, 8, 8, 16), np.float32))
    done = run_app(config, app, wrong, tmp_path / "out.npy")
    assert done.returncode == 2
    assert str(wrong) in done.stderr and "shape" in done.stderr


def test_python_runtime_concurrent_calls_from_four_threads(tmp_path):
    """The same model called by 4 Python threads at once (ctypes releases the GIL during
    the call): every result equals the single call's."""
    import sepc_runtime
    from sepc.driver import compile_file

    manifest = compile_file(str(EXAMPLE / "model.json"), target="host", out_dir=str(tmp_path))
    model = sepc_runtime.load(manifest, threads=2)
    x = np.load(EXAMPLE / "input.x.npy")
    expected = model(x)
    assert scaled_error(expected, reference_output()) <= 1e-4
    failures = []

    def work():
        out = np.full_like(expected, np.nan)
        for _ in range(20):
            model.run({"x": x}, out={"pw_bn": out})
            if not np.array_equal(out, expected):
                failures.append("mismatch")
            out.fill(np.nan)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_outside_project_uses_find_package(tmp_path):
    """An application's own CMake project: find_package(sepc) + sepc_add_model, with a
    model given random weights, calling the entry point through the generated header."""
    project = tmp_path / "app"
    project.mkdir()
    (project / "CMakeLists.txt").write_text(f"""
cmake_minimum_required(VERSION 3.20)
project(outside C)
find_package(sepc CONFIG REQUIRED PATHS "{REPO / 'cmake'}" NO_DEFAULT_PATH)
sepc_add_model(block MODEL "{EXAMPLE / 'model.json'}" RANDOM_WEIGHTS 3)
add_executable(app main.c)
target_link_libraries(app PRIVATE block)
""")
    (project / "main.c").write_text("""
#include <stdio.h>
#include "mobilenet_v1_block.h"
static float x[SEPC_MOBILENET_V1_BLOCK_IN_0_SIZE], y[SEPC_MOBILENET_V1_BLOCK_OUT_0_SIZE];
int main(void) {
    for (int i = 0; i < SEPC_MOBILENET_V1_BLOCK_IN_0_SIZE; i++) x[i] = (float)(i % 7) - 3.0f;
    sepc_mobilenet_v1_block_set_threads(1);
    sepc_mobilenet_v1_block(x, y);
    double sum = 0;
    for (int i = 0; i < SEPC_MOBILENET_V1_BLOCK_OUT_0_SIZE; i++) sum += y[i];
    printf("abi %d sum %.3f\\n", SEPC_MOBILENET_V1_BLOCK_ABI_VERSION, sum);
    return SEPC_MOBILENET_V1_BLOCK_WORKSPACE_SIZE;
}
""")
    build = tmp_path / "build"
    for command in (["cmake", "-S", str(project), "-B", str(build)],
                    ["cmake", "--build", str(build)]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    run = subprocess.run([str(build / "app")], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("abi 1 sum ")
