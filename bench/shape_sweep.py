#!/usr/bin/env python3
"""Shape sweep: sepc against LiteRT/XNNPACK and ONNX Runtime on the layer shapes of the
networks users ship (peers/shapes.py: MobileNetV1/V2/V3 at several widths and resolutions,
EfficientNet-B0 and -Lite0, MnasNet, Xception, DS-CNN and 1-D keyword spotters): depthwise
-> 1x1 pairs (stride 1 and 2, kernels 3 and 5), lone 1x1 convs, stem convs, dense heads.

Every case is one layer (or pair) with seeded random weights, checked against the float64
reference before timing; the systems are timed in interleaved rounds, one worker process per
thread count. Ratios are peer ms / sepc ms (above 1: sepc is faster).

    python bench/shape_sweep.py [--count 220] [--seed 0] [--threads 1 2] [--work DIR]
                                [--tf-python /tmp/tfvenv/bin/python] [--json OUT] [--png OUT]
                                [--baseline REV]   # also time sepc built from a git revision

The work folder keeps the cases, the peers' models and sepc's builds between runs (delete
it, or pass a new one, after changing the compiler). --baseline REV compiles every case
with the compiler of that revision too (label "base"), timed in the same rounds.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import suite  # noqa: E402
from peers.shapes import Shape, sample  # noqa: E402
from peers.weights import random_weights  # noqa: E402

DEFAULT_TF = "/tmp/tfvenv/bin/python"


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=220)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--work", default="/tmp/sepc_sweep")
    p.add_argument("--tf-python", default=DEFAULT_TF,
                   help="a Python with tensorflow-cpu, for the .tflite files (bench/README.md)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--settle-ms", type=float, default=None,
                   help="untimed calls before each timed batch (default 20 ms at 1 thread, "
                        "250 above: idle OpenMP/ORT workers spin for 200 ms)")
    p.add_argument("--systems", default=",".join(suite.SYSTEMS))
    p.add_argument("--baseline", metavar="REV", help="also time sepc built from this git revision")
    p.add_argument("--only", help="comma-separated substrings: run only matching cases")
    p.add_argument("--build-only", action="store_true", help="write and compile, time nothing")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--png", metavar="OUT")
    p.add_argument("--_worker", type=int, help=argparse.SUPPRESS)
    return p.parse_args()


def cases(args: argparse.Namespace) -> list[tuple[Shape, Path]]:
    work = Path(args.work)
    chosen = sample(args.count, args.seed)
    if args.only:
        chosen = [s for s in chosen if any(k in s.name for k in args.only.split(","))]
    found = []
    for shape in chosen:
        folder = work / shape.name
        model = shape.model()
        suite.write_case(folder, model, random_weights(model, zlib.crc32(shape.name.encode())))
        found.append((shape, folder))
    return found


def labels(args: argparse.Namespace) -> list[str]:
    return ["sepc"] + (["base"] if args.baseline else [])


def build(args: argparse.Namespace, found: list[tuple[Shape, Path]]) -> None:
    if Path(args.tf_python).exists():
        suite.make_tflite([f for _, f in found], args.tf_python)
    else:
        print(f"no {args.tf_python}: LiteRT left out (see bench/README.md)", file=sys.stderr)
    overlay = suite.revision_overlay(args.baseline, Path(args.work) / ".base") if args.baseline else None
    for i, (shape, folder) in enumerate(found):
        try:
            seconds = suite.compile_sepc(folder)
            if overlay:
                suite.compile_sepc_at(overlay, folder, "base")
        except Exception as e:        # one case's failure must not hide the others
            print(f"[{i + 1}/{len(found)}] {shape.name}: sepc compile failed: {e}", file=sys.stderr)
            continue
        print(f"[{i + 1}/{len(found)}] {shape.name}: compiled in {seconds:.1f} s", flush=True)


def worker(args: argparse.Namespace) -> None:
    """Times every case at args._worker threads; prints one JSON line per case."""
    threads = args._worker
    settle = (args.settle_ms if args.settle_ms is not None else (20 if threads == 1 else 250)) / 1e3
    systems = [s for s in args.systems.split(",") if s != "sepc"]
    for shape, folder in cases(args):
        impls, notes = {}, {}
        for label in labels(args):
            try:
                impls[label] = suite.checked("sepc", folder, threads, label)
            except suite.Unavailable as e:
                notes[label] = str(e)
        for name in systems:
            try:
                impls[name] = suite.checked(name, folder, threads)
            except suite.Unavailable as e:
                notes[name] = str(e)
        ms = suite.measure(impls, args.rounds, settle) if impls else {}
        print(json.dumps({"case": shape.name, "threads": threads, "ms": ms, "notes": notes,
                          "gflops": shape.flops / 1e9}), flush=True)


def run_workers(args: argparse.Namespace) -> list[dict]:
    rows = []
    for threads in args.threads:
        command = [sys.executable, __file__, "--_worker", str(threads)] + sys.argv[1:]
        done = subprocess.run(command, capture_output=True, text=True,
                              env=suite.worker_environment(threads))
        if done.returncode:
            sys.exit(f"worker ({threads} threads) failed: {done.stderr.strip()[-1500:]}")
        rows += [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return rows


def ratio(row: dict, peer: str, label: str = "sepc") -> float | None:
    ms = row["ms"]
    return ms[peer] / ms[label] if peer in ms and label in ms else None


def report(rows: list[dict], args: argparse.Namespace) -> dict:
    summary = {}
    for threads in args.threads:
        mine = [r for r in rows if r["threads"] == threads]
        print(f"\n=== {threads} thread(s), {len(mine)} shapes, {suite.cpu_model()}")
        print(f"{'case':58} {'sepc ms':>8} {'GFLOP/s':>8} " + " ".join(
            f"{p:>11}" for p in ("vs litert", "vs ort", "vs base")))
        for r in sorted(mine, key=lambda r: ratio(r, "litert") or 9.9):
            sepc_ms = r["ms"].get("sepc")
            gflops = r["gflops"] / (sepc_ms / 1e3) if sepc_ms else 0.0
            cells = [ratio(r, "litert"), ratio(r, "onnxruntime"), ratio(r, "base")]
            print(f"{r['case'][:58]:58} {sepc_ms or 0:8.3f} {gflops:8.1f} " + " ".join(
                f"{c:11.2f}" if c else f"{'-':>11}" for c in cells)
                + (f"  {r['notes']}" if r["notes"] else ""))
        entry = {}
        for peer in ("litert", "onnxruntime", "base"):
            values = [v for r in mine if (v := ratio(r, peer))]
            if values:
                entry[peer] = {"geomean": suite.geomean(values), "worst": min(values),
                               "under_0.9": sum(v < 0.9 for v in values), "shapes": len(values)}
                print(f"vs {peer}: geomean {entry[peer]['geomean']:.3f}x, worst "
                      f"{entry[peer]['worst']:.2f}x, {entry[peer]['under_0.9']} of {len(values)} "
                      "under 0.9x")
        summary[threads] = entry
    return summary


def plot(rows: list[dict], args: argparse.Namespace, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(args.threads), 1, figsize=(14, 4 * len(args.threads)), squeeze=False)
    for ax, threads in zip(axes[:, 0], args.threads):
        mine = sorted((r for r in rows if r["threads"] == threads and ratio(r, "litert")),
                      key=lambda r: r["gflops"])
        ax.scatter(range(len(mine)), [ratio(r, "litert") for r in mine], s=8, label="vs LiteRT/XNNPACK")
        ax.scatter(range(len(mine)), [ratio(r, "onnxruntime") or 0 for r in mine], s=8,
                   label="vs ONNX Runtime")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.axhline(0.9, color="r", lw=0.6, ls="--")
        ax.set_yscale("log")
        ax.set_ylabel("peer ms / sepc ms")
        ax.set_title(f"{threads} thread(s): shapes by GFLOP")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    args = parse()
    if args._worker:
        worker(args)
        return
    found = cases(args)
    build(args, found)
    if args.build_only:
        return
    rows = run_workers(args)
    summary = report(rows, args)
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": suite.cpu_model(), "args": vars(args),
                                               "summary": summary, "rows": rows}, indent=1))
    if args.png:
        plot(rows, args, args.png)


if __name__ == "__main__":
    main()
