#!/usr/bin/env python3
"""Shows that a change leaves the generated code alone: `--emit STAGE` of the benchmark
blocks (bench/peers/blocks.py), the 13-block MobileNetV1 (bench/peers/network.py) and the
lit tests' models, from this working tree and from a git revision, byte for byte.

    python tools/emit_identical.py --baseline 66609f5 [--targets x86-avx512,arm-sve]
                                   [--stage llvm] [--models blocks,mobilenet_v1,lit] [-j 2]

The revision is exported with `git archive` into a temporary folder and run from there
(PYTHONPATH in front of the installed package), so both sides use the same Python and the
same pinned MLIR/LLVM wheels. Exit status 1 when any output differs.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_TARGETS = ("x86-avx512", "x86-avx2", "arm-neon", "arm-sve")


def models(kinds: list[str], folder: Path) -> dict[str, Path]:
    """{label: model.json path} for the requested kinds, written into `folder`."""
    found: dict[str, Path] = {}
    if "blocks" in kinds:
        from peers.blocks import BLOCKS
        for name, block in BLOCKS.items():
            path = folder / f"block_{name}.json"
            path.write_text(json.dumps(block.model()))
            found[f"block {name}"] = path
    if "mobilenet_v1" in kinds:
        from peers.network import mobilenet_v1_model
        path = folder / "mobilenet_v1.json"
        path.write_text(json.dumps(mobilenet_v1_model()))
        found["mobilenet_v1"] = path
    if "lit" in kinds:
        for path in sorted((ROOT / "test/lit/Inputs").glob("*.json")):
            found[f"lit {path.stem}"] = path
    return found


def export(revision: str, folder: Path) -> Path:
    """The revision's package laid out as it installs: sepc, sepc.dialects, sepc_runtime."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True,
                             capture_output=True).stdout
    source = folder / "source"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    return overlay(source, folder / "overlay")


def overlay(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    (target / "sepc").symlink_to(source / "compiler/sepc")
    (target / "sepc_runtime").symlink_to(source / "runtime/sepc_runtime")
    # sepc.dialects lives in dialects/: a package of its own folder, found through sepc's
    # __path__, which the overlay extends with a folder holding only that link.
    extra = target / "_dialects_parent" / "sepc"
    extra.mkdir(parents=True)
    (extra / "dialects").symlink_to(source / "dialects")
    (target / "sitecustomize.py").write_text(
        "import sepc\n"
        f"sepc.__path__.append({str(extra)!r})\n")
    return target


def emit(pythonpath: Path, model: Path, target: str, stage: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    done = subprocess.run([sys.executable, "-m", "sepc", "compile", str(model), "--target", target,
                           "--random-weights", "0", "--emit", stage],
                          capture_output=True, text=True, env=env, cwd=pythonpath)
    if done.returncode != 0:
        return f"<exit {done.returncode}: {done.stderr.strip()[-300:]}>"
    return done.stdout


def digest(text: str) -> str:
    return text[:60] if text.startswith("<exit") else hashlib.sha256(text.encode()).hexdigest()[:12]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS))
    parser.add_argument("--stage", default="llvm")
    parser.add_argument("--models", default="blocks,mobilenet_v1")
    parser.add_argument("-j", dest="jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sepc-identical-") as tmp:
        work = Path(tmp)
        (work / "models").mkdir()
        found = models(args.models.split(","), work / "models")
        before = export(args.baseline, work / "baseline")
        after = overlay(ROOT, work / "current")
        jobs = [(label, path, target) for label, path in found.items()
                for target in args.targets.split(",")]

        def compare(job):
            label, path, target = job
            old = emit(before, path, target, args.stage)
            new = emit(after, path, target, args.stage)
            # A model.json the compiler refuses counts as identical when the message is.
            return label, target, digest(old), digest(new), old == new

        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(compare, jobs))
    print(f"--emit {args.stage}: this tree against {args.baseline}")
    print(f"| model | target | {args.baseline} | this tree | identical |")
    print("|---|---|---|---|---|")
    for label, target, old, new, same in rows:
        print(f"| {label} | {target} | {old} | {new} | {'yes' if same else 'NO'} |")
    differing = sum(not same for *_, same in rows)
    print(f"{len(rows) - differing} of {len(rows)} identical")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
