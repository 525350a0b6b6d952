"""What bench/shape_sweep.py and bench/network.py share: a folder per case holding the
model.json, its weights, an input, the float64 reference's outputs and each peer's model
(ONNX here, .tflite from make_tflite.py in a TensorFlow virtualenv); the systems that run a
case; and interleaved timing in one worker process per thread count.

Systems:
- sepc: the case compiled for the host (a strategy file may be given), loaded with T threads;
- litert: LiteRT's Interpreter with the XNNPACK delegate, num_threads=T, on model.tflite;
- onnxruntime: CPU execution provider, intra_op_num_threads=T, io_binding, on model.onnx.
Every output is checked against the reference (scaled error <= 1e-4) before timing; a wrong
or missing system is left out of that case with its reason.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "python"))
from reference import run_reference  # noqa: E402

TOLERANCE = 1e-4
SYSTEMS = ("sepc", "litert", "onnxruntime")


class Unavailable(Exception):
    """The system cannot run this case; the message says why in one line."""


@dataclass
class Impl:
    call: Callable[[], object]
    output: Callable[[], dict]        # output name -> NumPy array (channels-last)


def scaled_error(got: np.ndarray, want: np.ndarray) -> float:
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale


# ------------------------------------------------------------------------------- cases

def write_case(folder: Path, model: dict, weights: dict, seed: int = 1) -> None:
    """model.json, weights.npz, input.<name>.npy, expected.<name>.npy and model.onnx."""
    from peers.graphs import onnx_model
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "done").exists():
        return
    rng = np.random.default_rng(seed)
    inputs = {n: rng.standard_normal(s["shape"]).astype(np.float32)
              for n, s in model["inputs"].items()}
    (folder / "model.json").write_text(json.dumps({**model, "weights": "weights.npz"}))
    np.savez(folder / "weights.npz", **weights)
    values = run_reference(model, weights, inputs)
    for name, value in inputs.items():
        np.save(folder / f"input.{name}.npy", value)
    for name in model["outputs"]:
        np.save(folder / f"expected.{name}.npy", values[name])
    shapes = {n: list(s["shape"]) for n, s in model["inputs"].items()}
    shapes.update(_shapes(model, weights, inputs))
    (folder / "model.onnx").write_bytes(onnx_model(model, weights, shapes).SerializeToString())
    (folder / "done").write_text("")


def _shapes(model: dict, weights: dict, inputs: dict) -> dict:
    """Every layer's output shape, from the reference run on the case (all layers as outputs)."""
    everything = {**model, "outputs": [layer["name"] for layer in model["layers"]]}
    return {name: list(value.shape) for name, value in run_reference(everything, weights, inputs).items()}


def make_tflite(folders: list[Path], tf_python: str) -> None:
    """model.tflite beside every model.json that has none (one TensorFlow process)."""
    todo = [str(f) for f in folders if not (f / "model.tflite").exists()]
    if not todo:
        return
    script = REPO / "bench" / "peers" / "make_tflite.py"
    done = subprocess.run([tf_python, str(script), "--cases", *todo], capture_output=True, text=True)
    if done.returncode:
        print(f"make_tflite.py failed: {done.stderr.strip()[-600:]}", file=sys.stderr)


def compile_sepc(folder: Path, strategy: str = "", label: str = "sepc") -> float:
    """Compile the case into folder/LABEL (once); returns the compile time in seconds."""
    from sepc.driver import compile_file
    out = folder / label
    timing = out / "compile_s"
    if timing.exists():
        return float(timing.read_text())
    start = time.perf_counter()
    compile_file(str(folder / "model.json"), target="host", out_dir=str(out), strategy_file=strategy)
    elapsed = time.perf_counter() - start
    timing.write_text(f"{elapsed:.3f}")
    return elapsed


def revision_overlay(revision: str, folder: Path) -> Path:
    """sepc as of a git revision, laid out to run with PYTHONPATH (tools/emit_identical.py)."""
    sys.path.insert(0, str(REPO / "tools"))
    import emit_identical
    if not (folder / "overlay").exists():
        if folder.exists():
            import shutil
            shutil.rmtree(folder)
        emit_identical.export(revision, folder)
    return folder / "overlay"


def compile_sepc_at(overlay: Path, folder: Path, label: str) -> None:
    """Compile the case with the compiler in `overlay` into folder/LABEL (once)."""
    out = folder / label
    if (out / "compile_s").exists():
        return
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sepc", "compile", str(folder / "model.json"),
                           "--target", "host", "-o", str(out)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(overlay)), cwd=overlay)
    if done.returncode:
        raise RuntimeError(done.stderr.strip()[-300:])
    (out / "compile_s").write_text(f"{time.perf_counter() - start:.3f}")


# ----------------------------------------------------------------------------- systems

def load_case(folder: Path) -> tuple[dict, dict, dict]:
    model = json.loads((folder / "model.json").read_text())
    inputs = {n: np.load(folder / f"input.{n}.npy") for n in model["inputs"]}
    expected = {n: np.load(folder / f"expected.{n}.npy") for n in model["outputs"]}
    return model, inputs, expected


def sepc_impl(folder: Path, model: dict, inputs: dict, threads: int, label: str = "sepc") -> Impl:
    import sepc_runtime
    manifest = folder / label / f"{model['name']}.json"
    if not manifest.exists():
        raise Unavailable("not compiled")
    compiled = sepc_runtime.load(str(manifest), threads=threads)
    outs = {name: np.empty(shape, np.float32) for name, shape, _ in compiled.outputs}
    # Bound once, like the peers' inputs (set_tensor, io_binding): a timed call is the
    # library's call alone, not the runtime's per-call checks.
    return Impl(compiled.bind(inputs, out=outs), lambda: outs)


def litert_impl(folder: Path, model: dict, inputs: dict, threads: int) -> Impl:
    path = folder / "model.tflite"
    if not path.exists():
        raise Unavailable("no model.tflite (make_tflite.py needs TensorFlow: --tf-python)")
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    by_name = {d["name"].split(":")[0]: d for d in interpreter.get_input_details()}
    for name, value in inputs.items():
        detail = by_name.get(name) or by_name.get(f"serving_default_{name}") \
            or interpreter.get_input_details()[list(inputs).index(name)]
        # Written once: a timed call is the network alone, as sepc's is.
        interpreter.set_tensor(detail["index"], value)
    outputs = interpreter.get_output_details()
    names = model["outputs"]

    def output() -> dict:
        got = [interpreter.get_tensor(d["index"]) for d in outputs]
        # TFLite may reorder outputs: match them to the model's by shape, then order.
        result = {}
        for name in names:
            want = tuple(np.load(folder / f"expected.{name}.npy", mmap_mode="r").shape)
            index = next(i for i, g in enumerate(got) if tuple(g.shape) == want)
            result[name] = got.pop(index)
        return result

    return Impl(interpreter.invoke, output)


def onnxruntime_impl(folder: Path, model: dict, inputs: dict, threads: int) -> Impl:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    binding = session.io_binding()
    for name, value in inputs.items():
        binding.bind_cpu_input(name, value)
    outs = {}
    for name in model["outputs"]:
        shape = np.load(folder / f"expected.{name}.npy", mmap_mode="r").shape
        outs[name] = np.empty(shape, np.float32)
        binding.bind_output(name + "__out", "cpu", 0, np.float32, list(shape), outs[name].ctypes.data)
    return Impl(lambda: session.run_with_iobinding(binding), lambda: outs)


IMPLS = {"sepc": sepc_impl, "litert": litert_impl, "onnxruntime": onnxruntime_impl}


def checked(name: str, folder: Path, threads: int, label: str = "sepc") -> Impl:
    """The system loaded on the case, its output checked; `label`: which sepc build."""
    model, inputs, expected = load_case(folder)
    try:
        if name == "sepc":
            impl = sepc_impl(folder, model, inputs, threads, label)
        else:
            impl = IMPLS[name](folder, model, inputs, threads)
    except Unavailable:
        raise
    except Exception as e:     # a peer that cannot load a model is out of that case
        raise Unavailable(f"{type(e).__name__}: {str(e).splitlines()[0][:120]}") from None
    impl.call()
    got = impl.output()
    for out, want in expected.items():
        error = scaled_error(np.asarray(got[out]), want)
        if not error <= TOLERANCE:
            raise Unavailable(f"wrong output {out}: scaled error {error:.2g}")
    return impl


# ------------------------------------------------------------------------------ timing

def timed(call: Callable[[], object], settle_s: float, calls: int) -> float:
    """Seconds per call: `calls` calls timed after `settle_s` of untimed ones."""
    end = time.perf_counter() + settle_s
    while time.perf_counter() < end:
        call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def measure(impls: dict[str, Impl], rounds: int, settle_s: float,
            budget_s: float = 0.25) -> dict[str, float]:
    """Median ms per call of each system, timed in interleaved rounds (A B C A B C ...); each
    round times enough calls to take about budget_s / rounds (at least one)."""
    probe = {name: timed(impl.call, 0.0, 1) for name, impl in impls.items()}
    calls = {name: max(1, int(budget_s / rounds / max(t, 1e-6))) for name, t in probe.items()}
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, impl in impls.items():
            samples[name].append(timed(impl.call, settle_s, calls[name]))
    return {name: 1e3 * statistics.median(s) for name, s in samples.items()}


def worker_environment(threads: int) -> dict:
    """Thread pools size themselves when their library loads: the count goes in first."""
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = str(threads)
    return env


def geomean(values: list[float]) -> float:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()
