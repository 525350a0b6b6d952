#!/usr/bin/env python3
"""Static performance of the generated ARM inner loops, estimated by llvm-mca.

Emulated time means nothing, so this compiles a MobileNetV1 separable block for arm-sve and
arm-neon, cuts the innermost loops out of the assembly, and asks llvm-mca (the pinned LLVM
22 cost models) how many cycles one iteration takes on an SVE core (Neoverse V1) and on two
NEON cores (Neoverse N1, the A76's server sibling, and the in-order Cortex-A55). Not
`-mcpu=cortex-a76`: LLVM 22 schedules it with the Cortex-A57 model. The FMA throughput of
each loop is compared with the core's peak, measured the same way: a loop of independent
FMAs on the same model. Each loop is labelled with the kernel it belongs to and that
kernel's strategy as the compiler wrote it into the IR (`--emit strategy`).

    python bench/arm_mca.py [--shape 1x56x56x128] [--filters 128] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from sepc.driver import emit
from sepc.toolchain import tool

CORES = [  # (target, llvm-mca CPU, what the FMA looks like)
    ("arm-sve", "neoverse-v1", "fmla\tz{i}.s, p0/m, z30.s, z31.s"),
    ("arm-neon", "neoverse-n1", "fmla\tv{i}.4s, v30.4s, v31.4s"),
    ("arm-neon", "cortex-a55", "fmla\tv{i}.4s, v30.4s, v31.4s"),
]
# Which strategy kinds (schedules/) compute a loop of each kind the assembly shows.
LOOP_KINDS = {"depthwise": ("depthwise2d", "depthwise1d", "separable2d", "separable1d"),
              "pointwise": ("matmul", "packed_matmul", "separable2d", "separable1d"),
              "pw-tail": ("matmul", "packed_matmul", "separable2d", "separable1d")}
LABEL = re.compile(r"^(\.LBB\d+_\d+):")
BRANCH = re.compile(r"^\s*(b\.\w+|b|cbnz|cbz|tbnz|tbz)\s+.*?(\.LBB\d+_\d+)\s*$")
BROADCAST = re.compile(r"\bld1r[bhwd]?\b|\.s\[\d\]")


def block_model(shape: list[int], filters: int) -> dict:
    return {"sepc": 1, "name": "mca_block",
            "inputs": {"x": {"shape": shape, "dtype": "float32"}},
            "layers": [
                {"name": "dw", "op": "depthwise_conv2d", "input": "x", "kernel_size": 3,
                 "padding": "same", "activation": "relu6"},
                {"name": "pw", "op": "conv2d", "input": "dw", "filters": filters,
                 "kernel_size": 1, "activation": "relu6"}],
            "outputs": ["pw"]}


def innermost_loops(asm: str) -> list[list[str]]:
    """The bodies of loops llc marks as innermost, from their label to their back-branch."""
    lines = asm.splitlines()
    loops = []
    for i, line in enumerate(lines):
        match = LABEL.match(line)
        if not match or "Inner Loop Header" not in " ".join(lines[i:i + 4]):
            continue
        body = []
        for later in lines[i + 1:]:
            code = later.split("//")[0].rstrip()
            if not code.strip() or code.strip().startswith("."):
                continue
            body.append(code)
            branch = BRANCH.match(code)
            if branch and branch.group(2) == match.group(1):
                loops.append(body)
                break
    return loops


def mca_cycles_per_iteration(body: list[str], cpu: str, iterations: int = 200) -> float:
    path, env = tool("llvm-mca")
    done = subprocess.run([path, "-mtriple=aarch64-unknown-linux-gnu", f"-mcpu={cpu}",
                           f"-iterations={iterations}"], input="\n".join(body) + "\n",
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"llvm-mca failed: {done.stderr.strip()}")
    total = int(re.search(r"Total Cycles:\s+(\d+)", done.stdout).group(1))
    return total / iterations


def peak_fmas_per_cycle(cpu: str, fma: str) -> float:
    """Independent FMAs (24 accumulators) leave only the FMA pipes as the limit."""
    body = [fma.format(i=i) for i in range(24)]
    return len(body) / mca_cycles_per_iteration(body, cpu)


def kernel_of(kind: str, strategies: dict[str, dict]) -> tuple[str, str]:
    """(layer, its decisions, short) of the first kernel whose strategy kind computes loops
    of this kind."""
    for layer, decisions in strategies.items():
        if decisions.get("kind") in LOOP_KINDS[kind]:
            short = " ".join(f"{k}={v}" for k, v in decisions.items() if k != "kind")
            return layer, f"{decisions['kind']} {short}"
    return "?", ""


def analyse(target: str, cpu: str, fma: str, model_path: str) -> list[dict]:
    asm = emit(model_path, "asm", target=target, random_weights=0)
    strategies = json.loads(emit(model_path, "strategy", target=target, random_weights=0))
    peak = peak_fmas_per_cycle(cpu, fma)
    rows = []
    for body in innermost_loops(asm):
        fmas = sum(1 for line in body if re.search(r"\bfml[as]\b|\bfmad\b", line))
        if fmas < 4:
            continue
        kind = "pointwise" if any(BROADCAST.search(line) for line in body) else "depthwise"
        if kind == "pointwise" and any(re.search(r"\bst1w\b|\bstr\s+q", line) for line in body):
            # Only the peeled last step of a scalable loop (masked, at most once per row
            # tile) keeps its accumulators in memory.
            kind = "pw-tail"
        cycles = mca_cycles_per_iteration(body, cpu)
        layer, strategy = kernel_of(kind, strategies)
        rows.append({"target": target, "cpu": cpu, "loop": kind, "layer": layer,
                     "strategy": strategy, "instructions": len(body),
                     "fmas": fmas, "cycles_per_iteration": round(cycles, 2),
                     "fma_per_cycle": round(fmas / cycles, 2), "peak_fma_per_cycle": round(peak, 2),
                     "fraction_of_peak": round(fmas / cycles / peak, 3)})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="1x56x56x128", help="NHWC input of the block")
    ap.add_argument("--filters", type=int, default=128)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()
    shape = [int(d) for d in args.shape.split("x")]
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.json"
        model_path.write_text(json.dumps(block_model(shape, args.filters)))
        rows = [row for target, cpu, fma in CORES for row in analyse(target, cpu, fma, str(model_path))]
    print(f"llvm-mca estimates, separable block {args.shape} -> {args.filters} (dw 3x3 + pw), per innermost loop")
    print(f"{'target':9} {'cpu':12} {'loop':10} {'layer':6} {'instr':>5} {'FMAs':>5} "
          f"{'cyc/iter':>8} {'FMA/cyc':>7} {'peak':>5} {'of peak':>7}  strategy")
    for r in rows:
        print(f"{r['target']:9} {r['cpu']:12} {r['loop']:10} {r['layer']:6} {r['instructions']:5d} "
              f"{r['fmas']:5d} {r['cycles_per_iteration']:8.2f} {r['fma_per_cycle']:7.2f} "
              f"{r['peak_fma_per_cycle']:5.2f} {100 * r['fraction_of_peak']:6.1f}%  {r['strategy']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
