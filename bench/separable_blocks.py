#!/usr/bin/env python3
"""Benchmark fused depthwise + pointwise blocks: sepc against every available peer.

Blocks (fp32, batch 1, channels last, 'same' padding, bias + relu6 after both convs):
  A 112x112x32 s1 32->64     B 112x112x64 s2 64->128    C 56x56x128 s1 128->128
  D 28x28x256 s1 256->256    E 14x14x512 s1 512->512    F 7x7x1024 s1 1024->1024
  K1D 1-D 16000x64, depthwise k=9 s1, pw 64->64

Systems: sepc (host target) and the peers PyTorch, ONNX Runtime, IREE, LiteRT/XNNPACK
(needs --tflite-dir) and NumPy float32; a peer that is missing is skipped with its reason.
Every output is checked against the float64 reference interpreter (test/python/reference.py)
before timing. Then the systems are timed in interleaved rounds (A B C A B C ...), each
timed call preceded by --settle-ms of untimed calls of the same system (warm caches, settled
clock), and the median is reported as in bench/mobilenet_block.py.

Each thread count runs in its own worker process, so that every thread pool (OpenMP,
OpenBLAS, IREE's task topology) is sized once at start-up to that count. The parent measures
the roofline: a per-core peak (the float32 FMA peak of compiler/sepc/fma_peak.c, independent
vector FMAs built for this CPU; or --peak-gflops) and DRAM bandwidth (NumPy copy of a 256 MB array, or
--bandwidth-gbs); attainable = min(peak * threads, AI * bandwidth), with AI = FLOPs /
(input + parameters + output bytes).

    python bench/separable_blocks.py [--threads 1 2] [--repeats N] [--json OUT] [--png OUT]
                                     [--blocks A,B,...] [--tflite-dir DIR]
"""
import argparse
import os
import sys

_parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
_parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                     help="thread counts to measure, each in its own process (default: 1 2)")
_parser.add_argument("--repeats", type=int, default=20,
                     help="timed rounds per block (default 20; fewer when a block's rounds would "
                          "exceed --block-budget-s, but at least 5)")
_parser.add_argument("--block-budget-s", type=float, default=10.0,
                     help="time budget of one block's timed rounds per thread count (default 10)")
_parser.add_argument("--settle-ms", type=float, default=None,
                     help="untimed running of each system before each timed call (default 50 at "
                          "1 thread; 300 above, longer than the 200 ms that idle libomp and "
                          "ONNX Runtime workers keep spinning: a shorter settle times one "
                          "system while another's workers still spin on the same cores)")
_parser.add_argument("--blocks", default="A,B,C,D,E,F,K1D", help="comma-separated block names")
_parser.add_argument("--systems", default=None,
                     help="comma-separated subset of sepc,pytorch,onnxruntime,iree,litert,numpy")
_parser.add_argument("--tflite-dir", help="folder with block_<NAME>.tflite files for LiteRT/XNNPACK "
                                          "(made by bench/peers/make_tflite.py)")
_parser.add_argument("--peak-gflops", type=float, help="per-core peak GFLOP/s (default: measured)")
_parser.add_argument("--bandwidth-gbs", type=float, help="DRAM bandwidth GB/s (default: measured)")
_parser.add_argument("--json", metavar="OUT", help="write all numbers to this JSON file")
_parser.add_argument("--png", metavar="OUT", help="write a roofline plot (needs matplotlib)")
_parser.add_argument("--work-dir", help=argparse.SUPPRESS)
_parser.add_argument("--_worker", type=int, help=argparse.SUPPRESS)
_parser.add_argument("--_result", help=argparse.SUPPRESS)
ARGS = _parser.parse_args()

# Thread pools size themselves when their library loads, so the limit goes in first. The
# parent only measures single-core peak and bandwidth.
_THREADS = ARGS._worker or 1
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                  "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = str(_THREADS)

import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "test" / "python"))
from peers.blocks import BLOCKS  # noqa: E402
from peers.runners import RUNNERS, Unavailable  # noqa: E402

TOLERANCE = 1e-4
MIN_REPEATS = 5


def selected_blocks():
    names = [n.strip() for n in ARGS.blocks.split(",") if n.strip()]
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        sys.exit(f"unknown block(s) {unknown}; choose from {','.join(BLOCKS)}")
    return [BLOCKS[n] for n in names]


def selected_systems():
    if ARGS.systems is None:
        return list(RUNNERS)
    names = [n.strip() for n in ARGS.systems.split(",") if n.strip()]
    unknown = [n for n in names if n not in RUNNERS]
    if unknown:
        sys.exit(f"unknown system(s) {unknown}; choose from {','.join(RUNNERS)}")
    return names


def scaled_error(got, want):
    return float(np.abs(np.asarray(got, np.float64) - want).max()) / max(1.0, float(np.abs(want).max()))


def settle_ms(threads: int) -> float:
    if ARGS.settle_ms is not None:
        return ARGS.settle_ms
    return 50.0 if threads == 1 else 300.0


def settle(call):
    """Run `call` untimed for the settle time (at least once); see bench/mobilenet_block.py."""
    end = time.perf_counter() + settle_ms(ARGS._worker) / 1e3
    call()
    while time.perf_counter() < end:
        call()


# ---------------------------------------------------------------------------- worker
def worker():
    from reference import run_reference

    threads = ARGS._worker
    work = Path(ARGS.work_dir)
    systems = selected_systems()
    report = {"threads": threads, "blocks": {}}
    load = os.getloadavg()[0]
    report["load_before"] = load
    print(f"--- {threads} thread(s): checking and timing (1-min load average {load:.2f} "
          f"on {os.cpu_count()} CPU(s))", flush=True)
    for block in selected_blocks():
        weights, x = block.weights(), block.input()
        want = run_reference(block.model(), weights, {"x": x})["pw"]
        impls, entry = {}, {"results": {}, "skipped": {}}
        for name in systems:
            runner = RUNNERS[name]
            try:
                if name == "litert":
                    impl = runner(block, weights, x, threads, work, tflite_dir=ARGS.tflite_dir)
                else:
                    impl = runner(block, weights, x, threads, work)
                impl.call()
                error = scaled_error(impl.output(), want)
            except Unavailable as reason:
                entry["skipped"][name] = str(reason)
                continue
            except Exception as failure:        # a peer must never stop the benchmark
                text = str(failure).strip().splitlines()
                entry["skipped"][name] = f"failed: {type(failure).__name__}: {text[0][:160] if text else ''}"
                continue
            if error > TOLERANCE:
                entry["skipped"][name] = f"WRONG OUTPUT: scaled error {error:.3g} > {TOLERANCE}"
                continue
            impls[name] = impl
            entry["results"][name] = {"note": impl.note, "scaled_error": error}
        for name, reason in entry["skipped"].items():
            print(f"  {block.name}: skipping {name}: {reason}", flush=True)

        # Size the rounds: one warm round estimates the cost of a round.
        start = time.perf_counter()
        for impl in impls.values():
            settle(impl.call)
        round_s = max(time.perf_counter() - start, 1e-6)
        repeats = max(MIN_REPEATS, min(ARGS.repeats, int(ARGS.block_budget_s / round_s)))
        samples = {name: [] for name in impls}
        for _ in range(repeats):
            for name, impl in impls.items():
                settle(impl.call)
                start = time.perf_counter()
                impl.call()
                samples[name].append(time.perf_counter() - start)
        for name, times in samples.items():
            entry["results"][name].update(median_ms=statistics.median(times) * 1e3, repeats=len(times),
                                          min_ms=min(times) * 1e3)
        entry["repeats"] = repeats
        report["blocks"][block.name] = entry
        timed = ", ".join(f"{n} {entry['results'][n]['median_ms']:.3f}" for n in samples)
        print(f"  {block.name}: {repeats} rounds, median ms: {timed}", flush=True)
    report["load_after"] = os.getloadavg()[0]
    Path(ARGS._result).write_text(json.dumps(report))


# ---------------------------------------------------------------------------- parent
def measure_fma_gflops():
    """One core's float32 FMA peak: the FMA loop `sepc profile` measures (compiler/sepc/
    fma_peak.c, independent vector FMAs on the host row's vectors), built with the system C
    compiler for this machine; None if it could not be built."""
    from sepc.profile import measure_peak
    from sepc.targets import TARGETS, host_target_name
    return measure_peak(TARGETS[host_target_name()], 1).per_core


def measure_peak_gflops():
    """Per-core peak: the FMA loop's (the hardware's ceiling), else the best single-thread
    float32 2048^2 matmul of NumPy and PyTorch (reported beside it either way)."""
    n = 2048
    a = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((n, n)).astype(np.float32)
    c = np.empty_like(a)
    found = {}

    def best_of(call, tries=5):
        call()
        times = []
        for _ in range(tries):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return 2 * n ** 3 / min(times) / 1e9

    fma = measure_fma_gflops()
    if fma is not None:
        found["fma loop"] = fma
    found["numpy matmul"] = best_of(lambda: np.matmul(a, b, out=c))
    try:
        import torch
        torch.set_num_threads(1)
        ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        found["pytorch matmul"] = best_of(lambda: torch.matmul(ta, tb, out=tc))
    except ImportError:
        pass
    return (fma if fma is not None else max(found.values())), found


def measure_bandwidth_gbs():
    """NumPy copy of a 256 MB array, read + write bytes counted; best of 5."""
    src = np.ones(256 * 2 ** 20 // 4, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - start)
    return 2 * src.nbytes / min(times) / 1e9


def fmt_speedup(value):
    return "n/a" if value is None else f"{value:.2f}x"


def summarise(blocks, reports, peak_core, bandwidth):
    """Print the tables; return the JSON-ready per-thread summary."""
    summary = {}
    for threads in sorted(reports):
        report = reports[threads]
        ceiling = peak_core * threads
        print(f"\n=== {threads} thread(s); attainable = min({ceiling:.1f} GFLOP/s, AI x {bandwidth:.1f} GB/s)")
        per_block, speedups, bounds = {}, [], []
        for block in blocks:
            entry = report["blocks"].get(block.name)
            if entry is None:
                continue
            attainable = min(ceiling, block.intensity * bandwidth)
            print(f"{block.name:<4} {block.describe()}: {block.flops / 1e6:.1f} MFLOP, "
                  f"AI {block.intensity:.1f} FLOP/B, roofline {attainable:.1f} GFLOP/s, "
                  f"{entry['repeats']} rounds")
            print(f"     {'system':<12} {'median ms':>10} {'GFLOP/s':>9} {'% roofline':>11}")
            rows = {}
            for name, result in entry["results"].items():
                gflops = block.flops / (result["median_ms"] / 1e3) / 1e9
                result.update(gflops=gflops, roofline_fraction=gflops / attainable)
                rows[name] = result
                print(f"     {name:<12} {result['median_ms']:>10.3f} {gflops:>9.2f} "
                      f"{100 * gflops / attainable:>10.1f}%   ({result['note']})")
            for name, reason in entry["skipped"].items():
                label = reason if reason.startswith("n/a") else f"skipped: {reason}"
                print(f"     {name:<12} {label}")
            peers = {n: r for n, r in rows.items() if n != "sepc"}
            best = min(peers, key=lambda n: peers[n]["median_ms"]) if peers else None
            speedup = bound = None
            if best and "sepc" in rows:
                speedup = peers[best]["median_ms"] / rows["sepc"]["median_ms"]
                speedups.append(speedup)
            if best:
                # The best peer's time over the roofline's: no code can be faster than that.
                bound = peers[best]["median_ms"] / (block.flops / attainable / 1e6)
                bounds.append(bound)
            print(f"     sepc speedup over best peer ({best or 'none'}): {fmt_speedup(speedup)}; "
                  f"at the roofline: {fmt_speedup(bound)}")
            per_block[block.name] = {"attainable_gflops": attainable, "best_peer": best,
                                     "sepc_speedup_over_best_peer": speedup,
                                     "roofline_speedup_over_best_peer": bound, **entry}
        geomean = math.exp(sum(map(math.log, speedups)) / len(speedups)) if speedups else None
        bound = math.exp(sum(map(math.log, bounds)) / len(bounds)) if bounds else None
        summary[threads] = {"peak_gflops": ceiling, "blocks": per_block,
                            "geomean_sepc_speedup_over_best_peer": geomean,
                            "geomean_roofline_speedup_over_best_peer": bound,
                            "blocks_in_geomean": len(speedups)}

    # The compact table: one row per block, one column group per thread count.
    print("\n=== summary: median ms (sepc | best peer), sepc speedup = best-peer ms / sepc ms")
    header = f"{'block':<5}" + "".join(f" | T={t}: {'sepc':>8} {'best peer':>21} {'speedup':>8} {'%roof':>6} "
                                        f"{'at roof':>7}" for t in sorted(summary))
    print(header)
    for block in blocks:
        line = f"{block.name:<5}"
        for threads in sorted(summary):
            b = summary[threads]["blocks"].get(block.name)
            if b is None:
                line += " | " + " " * 60
                continue
            sepc = b["results"].get("sepc")
            sepc_ms = f"{sepc['median_ms']:.3f}" if sepc else "n/a"
            roof = f"{100 * sepc['roofline_fraction']:.0f}%" if sepc else "n/a"
            best = b["best_peer"]
            best_txt = f"{b['results'][best]['median_ms']:.3f} {best}" if best else "none"
            line += (f" | T={threads}: {sepc_ms:>8} {best_txt:>21} "
                     f"{fmt_speedup(b['sepc_speedup_over_best_peer']):>8} {roof:>6} "
                     f"{fmt_speedup(b['roofline_speedup_over_best_peer']):>7}")
        print(line)
    for threads in sorted(summary):
        s = summary[threads]
        print(f"geomean sepc speedup over best peer, {threads} thread(s): "
              f"{fmt_speedup(s['geomean_sepc_speedup_over_best_peer'])} over {s['blocks_in_geomean']} block(s)"
              + ("" if s["blocks_in_geomean"] else " (sepc n/a: single-threaded build)")
              + f"; at the roofline: {fmt_speedup(s['geomean_roofline_speedup_over_best_peer'])}")
    return summary


def plot(blocks, summary, peak_core, bandwidth, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path} (pip install matplotlib)")
        return
    thread_counts = sorted(summary)
    fig, axes = plt.subplots(1, len(thread_counts), figsize=(6.5 * len(thread_counts), 5), squeeze=False)
    markers = {"sepc": "*", "pytorch": "o", "onnxruntime": "s", "iree": "^", "litert": "D", "numpy": "x"}
    ai = np.logspace(0, 2.5, 200)
    for ax, threads in zip(axes[0], thread_counts):
        ceiling = peak_core * threads
        ax.loglog(ai, np.minimum(ceiling, ai * bandwidth), "k-", lw=1.5,
                  label=f"roofline ({ceiling:.0f} GFLOP/s, {bandwidth:.0f} GB/s)")
        for name, marker in markers.items():
            xs, ys = [], []
            for block in blocks:
                result = summary[threads]["blocks"].get(block.name, {}).get("results", {}).get(name)
                if result:
                    xs.append(block.intensity)
                    ys.append(result["gflops"])
            if xs:
                ax.scatter(xs, ys, marker=marker, s=120 if name == "sepc" else 40, label=name,
                           zorder=3 if name == "sepc" else 2)
        for block in blocks:
            ax.annotate(block.name, (block.intensity, min(ceiling, block.intensity * bandwidth)),
                        textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        ax.set_xlabel("arithmetic intensity (FLOP / compulsory byte)")
        ax.set_ylabel("GFLOP/s")
        ax.set_title(f"dw+pw blocks, fp32, {threads} thread(s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"roofline plot written to {path}")


def parent():
    blocks = selected_blocks()
    selected_systems()
    if ARGS.peak_gflops:
        peak_core, peak_sources = ARGS.peak_gflops, {"given": ARGS.peak_gflops}
    else:
        peak_core, peak_sources = measure_peak_gflops()
    bandwidth = ARGS.bandwidth_gbs or measure_bandwidth_gbs()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU(s); per-core peak {peak_core:.1f} GFLOP/s "
          f"({', '.join(f'{k} {v:.1f}' for k, v in peak_sources.items())}), "
          f"bandwidth {bandwidth:.1f} GB/s (256 MB copy)")
    reports = {}
    with tempfile.TemporaryDirectory(prefix="sepc_sep_blocks_") as tmp:
        for threads in ARGS.threads:
            result = Path(tmp) / f"threads_{threads}.json"
            command = [sys.executable, str(Path(__file__).resolve()), "--_worker", str(threads),
                       "--_result", str(result), "--work-dir", tmp, "--repeats", str(ARGS.repeats),
                       "--block-budget-s", str(ARGS.block_budget_s), "--settle-ms", str(settle_ms(threads)),
                       "--blocks", ARGS.blocks]
            if ARGS.systems:
                command += ["--systems", ARGS.systems]
            if ARGS.tflite_dir:
                command += ["--tflite-dir", ARGS.tflite_dir]
            done = subprocess.run(command)
            if done.returncode or not result.exists():
                print(f"worker for {threads} thread(s) failed (exit {done.returncode}); no results for it")
                continue
            reports[threads] = json.loads(result.read_text())
    if not reports:
        sys.exit("no results")
    summary = summarise(blocks, reports, peak_core, bandwidth)
    available = sorted({n for s in summary.values() for b in s["blocks"].values() for n in b["results"]} - {"sepc"})
    skipped = {}
    for s in summary.values():
        for b in s["blocks"].values():
            for name, reason in b["skipped"].items():
                if name not in available and name != "sepc":
                    skipped.setdefault(name, reason)
    print(f"peers available: {', '.join(available) or 'none'}")
    busy = {t: max(r.get("load_before", 0), r.get("load_after", 0)) for t, r in reports.items()}
    if any(load > t + 0.5 for t, load in busy.items()):
        print(f"WARNING: other processes were running (1-min load average by thread count, this "
              f"benchmark included: {busy}): multi-threaded numbers suffer most, as a barrier waits for a thread "
              f"that another process has descheduled.")
    for name, reason in skipped.items():
        print(f"peer unavailable: {name}: {reason}")
    if ARGS.json:
        Path(ARGS.json).write_text(json.dumps({
            "machine": platform.machine(), "cpus": os.cpu_count(), "tolerance": TOLERANCE,
            "settle_ms": {str(t): settle_ms(t) for t in ARGS.threads}, "repeats_max": ARGS.repeats,
            "peak_gflops_per_core": peak_core, "peak_sources": peak_sources, "bandwidth_gbs": bandwidth,
            "blocks": {b.name: {"description": b.describe(), "in_shape": b.in_shape, "out_shape": b.out_shape,
                                "flops": b.flops, "min_bytes": b.min_bytes, "intensity": b.intensity}
                       for b in blocks},
            "load_average": {str(t): [r.get("load_before"), r.get("load_after")] for t, r in reports.items()},
            "peers_available": available, "peers_unavailable": skipped,
            "by_threads": {str(t): s for t, s in summary.items()},
        }, indent=2) + "\n")
        print(f"results written to {ARGS.json}")
    if ARGS.png:
        plot(blocks, summary, peak_core, bandwidth, ARGS.png)


if __name__ == "__main__":
    worker() if ARGS._worker else parent()
