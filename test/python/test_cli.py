"""The command line as scripts see it (spec/cli.md): exit codes, messages, what is written."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from golden_cases import REPO_CASES_ROOT

SEPC = [sys.executable, "-m", "sepc"]

BLOCK = {
    "sepc": 1, "name": "block", "inputs": {"x": {"shape": [1, 8, 8, 16], "dtype": "float32"}},
    "layers": [
        {"name": "dw", "op": "depthwise_conv2d", "input": "x", "kernel_size": 3, "padding": "same",
         "activation": "relu6"},
        {"name": "pw", "op": "conv2d", "input": "dw", "filters": 16, "kernel_size": 1},
    ],
    "outputs": ["pw"],
}


def sepc(*args, cwd=None):
    return subprocess.run([*SEPC, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def write_model(folder: Path, model: dict) -> Path:
    path = folder / "model.json"
    path.write_text(json.dumps(model))
    return path


def assert_user_error(done, *fragments):
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def test_compile_writes_the_three_artifacts(tmp_path):
    model = write_model(tmp_path, BLOCK)
    done = sepc("compile", model, "--target", "host", "--random-weights", "1",
                "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        ["block.h", "block.json", "block.so"]
    manifest = json.loads((tmp_path / "out" / "block.json").read_text())
    assert manifest["entry"] == "sepc_block" and manifest["outputs"][0]["shape"] == [1, 8, 8, 16]


@pytest.mark.parametrize("edit, fragments", [
    (lambda m: m["layers"][0].update(strides=0), ["layer 'dw' (#0)", "field 'strides'"]),
    (lambda m: m["layers"][1].update(filtres=16), ["layer 'pw' (#1)", "filtres"]),
    (lambda m: m.update(sepc=2), ["field 'sepc'", "1"]),
    (lambda m: m["layers"][1].update(input="nowhere"), ["layer 'pw' (#1)", "field 'input'"]),
])
def test_bad_model_exits_2_naming_file_layer_field_and_writes_nothing(tmp_path, edit, fragments):
    model = json.loads(json.dumps(BLOCK))
    edit(model)
    path = write_model(tmp_path, model)
    out = tmp_path / "out"
    done = sepc("compile", path, "--target", "host", "--random-weights", "1", "-o", out)
    assert_user_error(done, str(path), *fragments)
    assert not out.exists() or not any(out.iterdir())


def test_failed_recompile_leaves_the_previous_artifacts_untouched(tmp_path):
    path = write_model(tmp_path, BLOCK)
    out = tmp_path / "out"
    assert sepc("compile", path, "--target", "host", "--random-weights", "1",
                "-o", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = json.loads(json.dumps(BLOCK))
    broken["layers"][1]["filters"] = -1
    write_model(tmp_path, broken)
    assert_user_error(sepc("compile", path, "--target", "host", "--random-weights", "1", "-o", out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("args, fragment", [
    (["compile", "missing.json", "--target", "host"], "missing.json"),
    (["compile", "{model}", "--target", "riscv"], "riscv"),
    (["compile", "{model}", "--target", "host", "--emit", "bytes"], "--emit"),
    (["compile", "{model}"], "--target"),
    (["frobnicate"], "frobnicate"),
])
def test_usage_errors_exit_2(tmp_path, args, fragment):
    model = write_model(tmp_path, BLOCK)
    done = sepc(*[a.format(model=model) for a in args])
    assert_user_error(done, fragment)


def test_missing_weights_file_exits_2(tmp_path):
    model = json.loads(json.dumps(BLOCK))
    model["weights"] = "absent.npz"
    path = write_model(tmp_path, model)
    assert_user_error(sepc("compile", path, "--target", "host", "-o", tmp_path / "out"),
                      "absent.npz")


@pytest.mark.parametrize("stage, marker", [
    ("sep", '"sep.depthwise_conv2d"'), ("linalg", "linalg.depthwise_conv_2d_nhwc_hwc"),
    ("tiled", "scf.forall"), ("vector", "vector.fma"), ("llvm", "llvm.func"),
    ("llvm-ir", "define void @sepc_block"), ("asm", "sepc_block:"),
])
def test_every_stage_can_be_emitted(tmp_path, stage, marker):
    path = write_model(tmp_path, BLOCK)
    done = sepc("compile", path, "--target", "x86-avx512", "--random-weights", "1", "--emit", stage,
                "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout
    assert not (tmp_path / "out").exists()


def test_run_writes_one_npy_per_output(tmp_path):
    # Two inputs, and two outputs listed in other than layer order.
    case = REPO_CASES_ROOT / "add_two_and_three_inputs"
    out = tmp_path / "out"
    assert sepc("compile", case / "model.json", "--target", "host",
                "-o", tmp_path / "b").returncode == 0
    done = sepc("run", tmp_path / "b" / f"{case.name}.json", "--output-dir", out,
                "--input", f"x={case / 'input.x.npy'}", "--input", f"z={case / 'input.z.npy'}")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sum2.npy", "sum3.npy"]
    for name in ("sum3", "sum2"):
        want = np.load(case / f"expected.{name}.npy")
        got = np.load(out / f"{name}.npy")
        assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_run_rejects_an_input_of_the_wrong_shape(tmp_path):
    path = write_model(tmp_path, BLOCK)
    assert sepc("compile", path, "--target", "host", "--random-weights", "1",
                "-o", tmp_path / "b").returncode == 0
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((1, 8, 8, 15), np.float32))
    assert_user_error(sepc("run", tmp_path / "b" / "block.json", "--input", f"x={bad}"), "x")


def test_parallel_build_gives_the_same_results_at_any_thread_count_and_concurrently(tmp_path):
    import threading

    import sepc_runtime
    from reference import run_reference
    from conftest import random_inputs, random_weights

    model = json.loads(json.dumps(BLOCK))
    model["inputs"]["x"]["shape"] = [1, 24, 24, 32]
    model["layers"][1]["filters"] = 48
    weights, inputs = random_weights(model, 5), random_inputs(model, 6)
    model["weights"] = "w.npz"
    np.savez(tmp_path / "w.npz", **weights)
    path = write_model(tmp_path, model)
    done = sepc("compile", path, "--target", "host", "--threads", "2", "-o", tmp_path / "b")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "b" / "block.json").read_text())
    assert manifest["threads"] == 2 and manifest["thread_control"] == "sepc_block_set_threads"
    want = run_reference(model, weights, inputs)["pw"]
    models = [sepc_runtime.load(tmp_path / "b" / "block.json", threads=n) for n in (1, 2, 3)]
    assert sepc_runtime.load(tmp_path / "b" / "block.json").threads == 2
    errors = []

    def call_repeatedly(m):
        for _ in range(5):
            got = m(inputs["x"])
            errors.append(float(np.abs(got - want).max()) / max(1.0, float(np.abs(want).max())))

    workers = [threading.Thread(target=call_repeatedly, args=(m,)) for m in models + models[1:2]]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(errors) == 20 and max(errors) <= 1e-4
