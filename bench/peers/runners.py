"""One runner per system. Each returns an Impl or raises Unavailable(one-line reason).

A runner prepares everything untimed (compilation, sessions, weights in the system's own
layout, input converted to the layout the system wants), so that `Impl.call()` is exactly
one inference on the prepared input. `Impl.output()` returns the last call's result as an
NHWC/NWC NumPy array, for checking against the float64 reference.

Layouts: sepc, PyTorch 2-D (channels_last, a free view), LiteRT and NumPy take the block's
channels-last input as is. PyTorch 1-D (conv1d), ONNX Runtime and IREE take NCHW/NCW: the
input is transposed once, outside the timed call (each peer gets its native layout).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


class Unavailable(Exception):
    """The system cannot run here; the message is the one-line reason."""


@dataclass
class Impl:
    call: Callable[[], None]
    output: Callable[[], np.ndarray]
    note: str


def _first_line(error):
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:160]


def _channels_first(x):
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


def _channels_last(y):
    return np.moveaxis(np.asarray(y), 1, -1)


# ----------------------------------------------------------------------------------- sepc
def sepc(block, weights, x, threads, work: Path):
    from sepc.driver import compile_file
    import sepc_runtime

    folder = work / "sepc" / block.name
    folder.mkdir(parents=True, exist_ok=True)
    model = block.model()
    (folder / "model.json").write_text(json.dumps(model))
    np.savez(folder / "weights.npz", **weights)
    manifest = compile_file(str(folder / "model.json"), target="host", out_dir=str(folder / "build"))
    try:
        compiled = sepc_runtime.load(str(manifest), threads=threads)
    except ValueError as error:
        if threads > 1:
            raise Unavailable(f"n/a (single-threaded build): {_first_line(error)}") from None
        raise
    out = np.empty(block.out_shape, np.float32)
    fields = json.loads(Path(manifest).read_text())
    build = "parallel build" if "thread_control" in fields else f"built for {fields.get('threads', 1)} thread(s)"
    return Impl(lambda: compiled.run({"x": x}, out={"pw": out}), lambda: out,
                f"host -> {fields['resolved_target']}, {build}, threads={threads}")


# -------------------------------------------------------------------------------- PyTorch
def pytorch(block, weights, x, threads, work):
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as error:
        raise Unavailable(f"torch not importable ({_first_line(error)}); pip install torch") from None
    torch.set_num_threads(threads)
    c = block.channels
    dw_bias, pw_bias = torch.from_numpy(weights["dw/bias"]), torch.from_numpy(weights["pw/bias"])
    result = {}
    if block.rank == 2:
        cl = torch.channels_last
        # NHWC memory viewed as NCHW is exactly channels_last: no copy.
        x_t = torch.from_numpy(x).permute(0, 3, 1, 2)
        dw = torch.from_numpy(weights["dw/depthwise_kernel"]).permute(2, 3, 0, 1).contiguous(memory_format=cl)
        pw = torch.from_numpy(weights["pw/kernel"]).permute(3, 2, 0, 1).contiguous(memory_format=cl)
        (top, bottom), (left, right) = block.pads
        symmetric = top == bottom and left == right

        def call():
            with torch.inference_mode():
                if symmetric:
                    mid = F.conv2d(x_t, dw, dw_bias, stride=block.stride, padding=(top, left), groups=c)
                else:   # Keras 'same' with stride 2 pads only after: pad explicitly
                    padded = F.pad(x_t, (left, right, top, bottom))
                    mid = F.conv2d(padded, dw, dw_bias, stride=block.stride, groups=c)
                mid = F.relu6(mid, inplace=True)
                result["y"] = F.relu6(F.conv2d(mid, pw, pw_bias), inplace=True)

        note = f"{torch.__version__}, channels_last" + ("" if symmetric else ", explicit F.pad")
        return Impl(call, lambda: result["y"].permute(0, 2, 3, 1).numpy(), note)

    (before, after), = block.pads
    if before != after:
        raise Unavailable("asymmetric 1-D padding not wired up")
    x_t = torch.from_numpy(_channels_first(x))                                    # (1, C, L)
    dw = torch.from_numpy(np.ascontiguousarray(np.transpose(weights["dw/depthwise_kernel"], (1, 2, 0))))  # (C,1,K)
    pw = torch.from_numpy(np.ascontiguousarray(np.transpose(weights["pw/kernel"], (2, 1, 0))))            # (F,C,1)

    def call():
        with torch.inference_mode():
            mid = F.relu6(F.conv1d(x_t, dw, dw_bias, stride=block.stride, padding=before, groups=c),
                          inplace=True)
            result["y"] = F.relu6(F.conv1d(mid, pw, pw_bias), inplace=True)

    return Impl(call, lambda: _channels_last(result["y"].numpy()), f"{torch.__version__}, conv1d NCW")


# ------------------------------------------------------------------------------- ONNX
def onnx_model(block, weights):
    """The block as an ONNX graph in NCHW/NCW (opset 17): Conv(group=C) Clip Conv(1x1) Clip."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rank = block.rank
    dw = np.transpose(weights["dw/depthwise_kernel"], (rank, rank + 1) + tuple(range(rank)))  # (C,1,K..)
    pw = np.transpose(weights["pw/kernel"], (rank + 1, rank) + tuple(range(rank)))            # (F,C,1..)
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(dw), "dw_w"),
        numpy_helper.from_array(weights["dw/bias"], "dw_b"),
        numpy_helper.from_array(np.ascontiguousarray(pw), "pw_w"),
        numpy_helper.from_array(weights["pw/bias"], "pw_b"),
        numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
        numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
    ]
    pads = [p[0] for p in block.pads] + [p[1] for p in block.pads]
    nodes = [
        helper.make_node("Conv", ["x", "dw_w", "dw_b"], ["dw"], group=block.channels,
                         kernel_shape=[block.kernel] * rank, strides=[block.stride] * rank, pads=pads),
        helper.make_node("Clip", ["dw", "lo", "hi"], ["dw6"]),
        helper.make_node("Conv", ["dw6", "pw_w", "pw_b"], ["pw"], kernel_shape=[1] * rank),
        helper.make_node("Clip", ["pw", "lo", "hi"], ["y"]),
    ]
    in_shape = [1, block.channels, *block.spatial]
    out_shape = [1, block.filters, *block.out_spatial]
    graph = helper.make_graph(
        nodes, f"block_{block.name}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="sepc-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def onnxruntime(block, weights, x, threads, work):
    try:
        import onnx  # noqa: F401
        import onnxruntime as ort
    except ImportError as error:
        raise Unavailable(f"{_first_line(error)}; pip install onnx onnxruntime") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(onnx_model(block, weights).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    x_nc = _channels_first(x)
    out = np.empty((1, block.filters) + block.out_spatial, np.float32)
    binding = session.io_binding()
    binding.bind_cpu_input("x", x_nc)
    binding.bind_output("y", "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
    return Impl(lambda: session.run_with_iobinding(binding), lambda: _channels_last(out),
                f"{ort.__version__}, CPU EP, NCHW, io_binding")


# ------------------------------------------------------------------------------- IREE
_IREE_THREADS = None


def iree(block, weights, x, threads, work):
    # iree.compiler bundles its own MLIR Python bindings, which clash with the ones sepc has
    # already loaded in this process: import and compile in subprocesses, run in-process.
    try:
        import iree.runtime as ireert
    except ImportError as error:
        raise Unavailable(f"{_first_line(error)}; pip install iree-base-compiler iree-base-runtime") from None
    try:
        import onnx
    except ImportError:
        raise Unavailable("needs onnx to build the model; pip install onnx") from None
    folder = work / "iree" / block.name
    folder.mkdir(parents=True, exist_ok=True)
    vmfb = folder / "model.vmfb"
    if not vmfb.exists():
        onnx.save(onnx_model(block, weights), str(folder / "model.onnx"))
        imported = subprocess.run(
            [sys.executable, "-m", "iree.compiler.tools.import_onnx", str(folder / "model.onnx"),
             "-o", str(folder / "model.mlir")], capture_output=True, text=True)
        if imported.returncode:
            raise Unavailable(f"ONNX import failed: {_first_line(imported.stderr)}")
        compiled = subprocess.run(
            [sys.executable, "-m", "iree.compiler.tools.scripts.iree_compile", str(folder / "model.mlir"),
             "--iree-hal-target-backends=llvm-cpu", "--iree-llvmcpu-target-cpu=host", "-o", str(vmfb)],
            capture_output=True, text=True)
        if compiled.returncode or not vmfb.exists():
            raise Unavailable(f"iree-compile failed: {_first_line(compiled.stderr)}")
    # One thread: local-sync runs inline on the caller (local-task's hand-off to one worker
    # measured ~4 ms of wake-up quantisation here). More: local-task, whose topology is fixed
    # when its first device is made, i.e. once per worker process.
    global _IREE_THREADS
    if threads == 1:
        driver = "local-sync"
    else:
        driver = "local-task"
        if _IREE_THREADS is None:
            ireert.flags.parse_flags(f"--task_topology_max_group_count={threads}")
            _IREE_THREADS = threads
        elif _IREE_THREADS != threads:
            raise Unavailable(f"IREE's task topology is already set to {_IREE_THREADS} thread(s) in this process")
    config = ireert.Config(driver)
    context = ireert.SystemContext(config=config)
    context.add_vm_module(ireert.VmModule.copy_buffer(context.instance, vmfb.read_bytes()))
    function = context.modules.module[f"block_{block.name}"]   # the ONNX graph name
    x_nc = _channels_first(x)
    result = {}

    def call():
        result["y"] = function(x_nc).to_host()

    from importlib.metadata import version
    return Impl(call, lambda: _channels_last(result["y"]),
                f"{version('iree-base-runtime')}, llvm-cpu host, {driver}, NCHW (ONNX import)")


# ---------------------------------------------------------------------- LiteRT (XNNPACK)
def litert(block, weights, x, threads, work, tflite_dir=None):
    if not tflite_dir:
        raise Unavailable("needs .tflite files (made with TensorFlow): see bench/README.md, "
                          "then pass --tflite-dir")
    path = Path(tflite_dir) / f"block_{block.name}.tflite"
    if not path.exists():
        raise Unavailable(f"{path} not found (bench/peers/make_tflite.py makes it)")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise Unavailable(f"{_first_line(error)}; pip install ai-edge-litert") from None
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    (input_detail,), (output_detail,) = interpreter.get_input_details(), interpreter.get_output_details()
    if tuple(input_detail["shape"]) != block.in_shape:
        raise Unavailable(f"{path}: input shape {tuple(input_detail['shape'])}, expected {block.in_shape}")
    index_in, index_out = input_detail["index"], output_detail["index"]
    # The input is written once: a timed call is the kernel alone, as sepc's is (a
    # set_tensor per call would add a copy of the whole input to every XNNPACK timing).
    interpreter.set_tensor(index_in, x)

    def call():
        interpreter.invoke()

    return Impl(call, lambda: interpreter.get_tensor(index_out), "ai-edge-litert, XNNPACK delegate, NHWC")


# ------------------------------------------------------------------------------ NumPy
def numpy_f32(block, weights, x, threads, work):
    """float32 NumPy: a sum of strided taps for the depthwise, one matmul for the pointwise."""
    rank, k, s = block.rank, block.kernel, block.stride
    dw = weights["dw/depthwise_kernel"][..., 0]                              # (K.., C)
    pw = weights["pw/kernel"].reshape(block.channels, block.filters)
    padded = np.zeros((1,) + tuple(n + b + a for n, (b, a) in zip(block.spatial, block.pads))
                      + (block.channels,), np.float32)
    inner = (slice(None),) + tuple(slice(b, b + n) for n, (b, _) in zip(block.spatial, block.pads))
    mid = np.empty((1,) + block.out_spatial + (block.channels,), np.float32)
    tmp = np.empty_like(mid)
    out = np.empty((int(np.prod(block.out_spatial)), block.filters), np.float32)
    taps = []
    for tap in np.ndindex(*(k,) * rank):
        view = (slice(None),) + tuple(slice(t, t + (o - 1) * s + 1, s) for t, o in zip(tap, block.out_spatial))
        taps.append((view, dw[tap]))

    def call():
        padded[inner] = x
        first, *rest = taps
        np.multiply(padded[first[0]], first[1], out=mid)
        for view, w in rest:
            np.multiply(padded[view], w, out=tmp)
            np.add(mid, tmp, out=mid)
        np.add(mid, weights["dw/bias"], out=mid)
        np.clip(mid, 0.0, 6.0, out=mid)
        np.matmul(mid.reshape(-1, block.channels), pw, out=out)
        np.add(out, weights["pw/bias"], out=out)
        np.clip(out, 0.0, 6.0, out=out)

    return Impl(call, lambda: out.reshape(block.out_shape),
                f"{np.__version__}, float32 tap sums + matmul (BLAS threads={os.environ.get('OPENBLAS_NUM_THREADS', '?')})")


RUNNERS = {
    "sepc": sepc,
    "pytorch": pytorch,
    "onnxruntime": onnxruntime,
    "iree": iree,
    "litert": litert,
    "numpy": numpy_f32,
}
PEERS = [name for name in RUNNERS if name != "sepc"]
