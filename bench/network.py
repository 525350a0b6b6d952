#!/usr/bin/env python3
"""Whole-network benchmark: MobileNetV1 (224x224x3, width 1.0, random weights) compiled by
sepc against the same network in LiteRT with the XNNPACK delegate, at 1 and 2 threads.

Both run the function of peers/network.py with the same weights (the .tflite comes from
peers/make_tflite.py in a TensorFlow virtualenv). Before timing, both outputs are checked
against the float64 reference interpreter (test/python/reference.py): every probability
within --rtol of the reference's. Then the two are timed in interleaved rounds, each timed
call preceded by --settle-ms of untimed calls of the same system, and medians are printed.

    python bench/peers/make_tflite.py TFLITE_DIR --blocks ''     # once, with TensorFlow
    python bench/network.py --tflite-dir TFLITE_DIR [--threads 1 2] [--rounds 15] [--json OUT]
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "test" / "python"))
from peers.network import NETWORKS, random_weights  # noqa: E402
from reference import run_reference  # noqa: E402


def sepc_system(model, weights, threads, work: Path):
    from sepc.driver import compile_file
    import sepc_runtime

    (work / "model.json").write_text(json.dumps({**model, "weights": "weights.npz"}))
    np.savez(work / "weights.npz", **weights)
    start = time.perf_counter()
    manifest = compile_file(str(work / "model.json"), target="host", out_dir=str(work / "build"))
    print(f"  sepc compile: {time.perf_counter() - start:.1f} s")
    compiled = sepc_runtime.load(str(manifest), threads=threads)
    name = model["outputs"][0]
    out = np.empty(compiled.outputs[0][1], np.float32)
    return lambda x: compiled.run({"x": x}, out={name: out})[name]


def litert_system(path: Path, threads):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    index_in = interpreter.get_input_details()[0]["index"]
    index_out = interpreter.get_output_details()[0]["index"]
    given = {}

    def call(x):
        # The input is copied in only when it changes: timed calls are the network alone.
        if given.get("x") is not x:
            interpreter.set_tensor(index_in, x)
            given["x"] = x
        interpreter.invoke()
        return interpreter.get_tensor(index_out)
    return call


def timed(call, x, settle_s):
    end = time.perf_counter() + settle_s
    while time.perf_counter() < end:
        call(x)
    start = time.perf_counter()
    call(x)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="mobilenet_v1", choices=sorted(NETWORKS))
    parser.add_argument("--tflite-dir", required=True)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--settle-ms", type=float, default=300.0,
                        help="untimed calls before each timed one (longer than idle OpenMP "
                             "workers spin, so one system's workers never steal the other's cores)")
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()

    model = NETWORKS[args.network]()
    weights = random_weights(model)
    x = np.random.default_rng(1).standard_normal(model["inputs"]["x"]["shape"]).astype(np.float32)
    want = run_reference(model, weights, {"x": x})[model["outputs"][0]]
    tflite = Path(args.tflite_dir) / f"network_{args.network}.tflite"
    results = {"network": args.network, "threads": {}}
    with tempfile.TemporaryDirectory(prefix="sepc_network_") as tmp:
        for threads in args.threads:
            print(f"--- {args.network}, {threads} thread(s)")
            systems = {"sepc": sepc_system(model, weights, threads, Path(tmp)),
                       "litert": litert_system(tflite, threads)}
            for name, call in systems.items():
                got = call(x)
                error = float(np.max(np.abs(got - want) / np.abs(want)))
                print(f"  {name}: max relative error vs float64 reference {error:.1e}")
                if not error <= args.rtol:
                    sys.exit(f"{name}: output differs from the reference by {error:.1e} (> {args.rtol})")
            samples = {name: [] for name in systems}
            for _ in range(args.rounds):
                for name, call in systems.items():
                    samples[name].append(timed(call, x, args.settle_ms / 1e3))
            medians = {name: 1e3 * statistics.median(s) for name, s in samples.items()}
            ratio = medians["litert"] / medians["sepc"]
            print("  median ms: " + ", ".join(f"{n} {m:.2f}" for n, m in medians.items())
                  + f"  -> sepc {ratio:.2f}x the speed of LiteRT/XNNPACK")
            results["threads"][threads] = {"median_ms": medians, "speedup_vs_litert": ratio}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
