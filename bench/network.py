#!/usr/bin/env python3
"""Network suite: whole networks compiled by sepc against LiteRT/XNNPACK and ONNX Runtime
with the same weights, at 1 and 2 threads (peers/network.py: MobileNetV1 1.0/224 and
0.5/160, MobileNetV2 1.0/224 and 0.35/96, Xception at 150x150, DS-CNN-L, a 1-D separable
keyword spotter, MobileNetV3-Small, -Large and -Small minimalistic, EfficientNet-B0 and
-Lite0).

Each network's output is checked against the float64 reference (scaled error <= 1e-4)
before timing; the systems are timed in interleaved rounds, each timed batch after
--settle-ms of untimed calls, one worker process per thread count (peers/suite.py).
Ratios are peer ms / sepc ms.

    python bench/network.py [--networks a,b] [--threads 1 2] [--rounds 9] [--work DIR]
                            [--tf-python /tmp/tfvenv/bin/python] [--json OUT]
                            [--strategy-dir DIR]   # also time builds with DIR/NETWORK.json
                            [--baseline REV]       # also time sepc of a git revision
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
from peers.network import NETWORKS  # noqa: E402
from peers.weights import random_weights  # noqa: E402


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--networks", default=",".join(NETWORKS))
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--settle-ms", type=float, default=300.0)
    p.add_argument("--work", default="/tmp/sepc_networks")
    p.add_argument("--tf-python", default="/tmp/tfvenv/bin/python")
    p.add_argument("--systems", default=",".join(suite.SYSTEMS))
    p.add_argument("--strategy-dir", help="strategy files NETWORK.json (sepc tune): label 'tuned'")
    p.add_argument("--baseline", metavar="REV", help="also time sepc built from this git revision")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--_worker", type=int, help=argparse.SUPPRESS)
    return p.parse_args()


def cases(args: argparse.Namespace) -> list[tuple[str, Path]]:
    found = []
    for name in args.networks.split(","):
        model = NETWORKS[name]()
        folder = Path(args.work) / name
        suite.write_case(folder, model, random_weights(model, zlib.crc32(name.encode())))
        found.append((name, folder))
    return found


def labels(args: argparse.Namespace) -> list[str]:
    return ["sepc"] + (["tuned"] if args.strategy_dir else []) + (["base"] if args.baseline else [])


def build(args: argparse.Namespace, found: list[tuple[str, Path]]) -> dict[str, float]:
    if Path(args.tf_python).exists():
        suite.make_tflite([f for _, f in found], args.tf_python)
    overlay = suite.revision_overlay(args.baseline, Path(args.work) / ".base") if args.baseline else None
    compile_s = {}
    for name, folder in found:
        compile_s[name] = suite.compile_sepc(folder)
        if args.strategy_dir:
            suite.compile_sepc(folder, str(Path(args.strategy_dir) / f"{name}.json"), "tuned")
        if overlay:
            suite.compile_sepc_at(overlay, folder, "base")
        print(f"{name}: sepc compile {compile_s[name]:.1f} s", flush=True)
    return compile_s


def worker(args: argparse.Namespace) -> None:
    threads = args._worker
    peers = [s for s in args.systems.split(",") if s != "sepc"]
    for name, folder in cases(args):
        impls, notes = {}, {}
        for label in labels(args):
            try:
                impls[label] = suite.checked("sepc", folder, threads, label)
            except suite.Unavailable as e:
                notes[label] = str(e)
        for peer in peers:
            try:
                impls[peer] = suite.checked(peer, folder, threads)
            except suite.Unavailable as e:
                notes[peer] = str(e)
        ms = suite.measure(impls, args.rounds, args.settle_ms / 1e3, budget_s=1.0)
        print(json.dumps({"network": name, "threads": threads, "ms": ms, "notes": notes}), flush=True)


def main() -> None:
    args = parse()
    if args._worker:
        worker(args)
        return
    found = cases(args)
    compile_s = build(args, found)
    rows = []
    for threads in args.threads:
        done = subprocess.run([sys.executable, __file__, "--_worker", str(threads)] + sys.argv[1:],
                              capture_output=True, text=True, env=suite.worker_environment(threads))
        if done.returncode:
            sys.exit(f"worker ({threads} threads) failed: {done.stderr.strip()[-1500:]}")
        rows += [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    print(f"\n{suite.cpu_model()}; ratio = peer ms / sepc ms")
    others = [label for label in labels(args) if label != "sepc"]
    print(f"| network | threads | sepc ms | LiteRT ms | ORT ms | vs LiteRT | vs ORT |"
          + "".join(f" {label} ms | {label} vs LiteRT |" for label in others) + " compile s |")
    print("|---|---|---|---|---|---|---|" + "---|---|" * len(others) + "---|")
    summary = {}
    for threads in args.threads:
        ratios = []
        for r in (r for r in rows if r["threads"] == threads):
            ms = r["ms"]
            vs = {p: ms[p] / ms["sepc"] if p in ms and "sepc" in ms else None
                  for p in ("litert", "onnxruntime")}
            if vs["litert"]:
                ratios.append(vs["litert"])
            cells = [f"{ms.get(k, float('nan')):.2f}" for k in ("sepc", "litert", "onnxruntime")]
            cells += [f"{v:.2f}x" if v else "-" for v in vs.values()]
            for label in others:
                cells += [f"{ms.get(label, float('nan')):.2f}",
                          f"{ms['litert'] / ms[label]:.2f}x" if label in ms and "litert" in ms else "-"]
            print(f"| {r['network']} | {threads} | " + " | ".join(cells)
                  + f" | {compile_s[r['network']]:.1f} |" + (f" {r['notes']}" if r["notes"] else ""))
        summary[threads] = suite.geomean(ratios)
    for threads, value in summary.items():
        print(f"geomean vs LiteRT/XNNPACK at {threads} thread(s): {value:.3f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": suite.cpu_model(), "rows": rows,
                                               "compile_s": compile_s, "geomean": summary}, indent=1))


if __name__ == "__main__":
    main()
