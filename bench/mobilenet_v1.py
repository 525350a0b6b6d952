#!/usr/bin/env python3
"""Compile-time benchmark on the whole MobileNetV1 (224x224x3, width 1.0, 1000 classes).

Writes the model.json (no weights: the compile uses --random-weights 0), times
`sepc compile MODEL --random-weights 0 --target host` as a subprocess (wall time, so
start-up and imports count as a user sees them), then loads the library once and checks
that it yields a probability vector. The target is a compile under 30 s; the exit status
is 1 when the compile fails or exceeds --budget.

    python bench/mobilenet_v1.py [DIR] [--budget 30]    # write into DIR (default: a temp dir), compile, time
    python bench/mobilenet_v1.py --write DIR            # only write DIR/model.json
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers.network import CLASSES, INPUT_SHAPE, mobilenet_v1_model  # noqa: E402

def write_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.json"
    path.write_text(json.dumps(mobilenet_v1_model(), indent=1) + "\n")
    return path


def check_runs(manifest_path: Path):
    """One inference on random input: the softmax output must sum to 1."""
    import numpy as np
    import sepc_runtime

    compiled = sepc_runtime.load(str(manifest_path))
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPE).astype(np.float32)
    start = time.perf_counter()
    probabilities = compiled.run({"x": x})["predictions"]
    elapsed = time.perf_counter() - start
    total = float(probabilities.sum())
    if probabilities.shape != (1, CLASSES) or not np.isfinite(total) or abs(total - 1.0) > 1e-3:
        sys.exit(f"compiled model gives {probabilities.shape} summing to {total}, not a distribution")
    print(f"first inference: {elapsed * 1e3:.1f} ms (outputs sum to {total:.6f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", help="where to write model.json and the build (default: temp dir)")
    parser.add_argument("--write", metavar="DIR", help="only write DIR/model.json and exit")
    parser.add_argument("--budget", type=float, default=30.0, help="compile-time target in seconds")
    args = parser.parse_args()
    if args.write:
        print(write_model(Path(args.write)))
        return

    with tempfile.TemporaryDirectory(prefix="sepc_mobilenet_v1_") as tmp:
        folder = Path(args.folder or tmp)
        model_path = write_model(folder)
        build = folder / "build"
        command = ["sepc", "compile", str(model_path), "--random-weights", "0", "--target", "host",
                   "-o", str(build)]
        start = time.perf_counter()
        finished = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if finished.returncode != 0:
            sys.exit(f"sepc compile failed (exit {finished.returncode}) after {elapsed:.1f} s:\n"
                     f"{finished.stderr.strip()}")
        verdict = "within" if elapsed <= args.budget else "OVER"
        print(f"sepc compile mobilenet_v1 (13 blocks, 224x224, --target host): {elapsed:.2f} s "
              f"({verdict} the {args.budget:g} s target)")
        check_runs(build / "mobilenet_v1.json")
    if elapsed > args.budget:
        sys.exit(1)


if __name__ == "__main__":
    main()
