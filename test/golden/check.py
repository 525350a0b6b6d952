#!/usr/bin/env python3
"""Compiles and runs golden cases through the `sepc` command line on one target and compares
every output with its golden array.

    python test/golden/check.py --target host
    python test/golden/check.py --target arm-sve --sve-vl 512 [CASE_DIR | DIR_OF_CASES ...]

Default cases: the repository's own (test/golden/cases, written by generate.py). The command
line and output are those of the shared conformance checker, so either runs the other's
cases: one `PASS|FAIL <case> [<target>]: <detail>` line per case, then
`conformance: N passed, N failed`. Exit status 0 only when every case passed and at least
one ran.

Only the command line is used, never the sepc package: this checks what a user of
`sepc compile` / `sepc run` gets. Needs numpy and a `sepc` on PATH (or --sepc CMD).
Acceptance per output: max |got - want| / max(1, max |want|) <= 1e-4.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TOLERANCE = 1e-4
DEFAULT_CASES = Path(__file__).resolve().parent / "cases"


class CaseFailure(Exception):
    pass


def find_cases(roots: list[Path]) -> list[Path]:
    cases = []
    for root in roots:
        if (root / "model.json").is_file():
            cases.append(root)
        else:
            cases.extend(sorted(p.parent for p in root.glob("*/model.json")))
    return cases


def scaled_error(got: np.ndarray, want: np.ndarray) -> float:
    want = want.astype(np.float64)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale


def sepc_step(command: list[str], what: str, timeout: float) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip()
        # The last lines name the error; a whole traceback would bury the other cases.
        raise CaseFailure(f"{what} exit {done.returncode}: {message[-400:]}")


def check_case(case: Path, sepc: list[str], target: str, sve_vl: int | None,
               timeout: float) -> str:
    """Returns the PASS detail; raises CaseFailure with the FAIL detail."""
    model = json.loads((case / "model.json").read_text())
    with tempfile.TemporaryDirectory(prefix="sepc-golden-") as scratch:
        build, out = Path(scratch) / "build", Path(scratch) / "out"
        out.mkdir()
        started = time.perf_counter()
        sepc_step([*sepc, "compile", str(case / "model.json"), "--target", target,
                   "-o", str(build)], "compile", timeout)
        compile_seconds = time.perf_counter() - started

        run = [*sepc, "run", str(build / f"{model['name']}.json"), "--output-dir", str(out)]
        for name in model["inputs"]:
            run += ["--input", f"{name}={case / f'input.{name}.npy'}"]
        if sve_vl:
            run += ["--sve-vl", str(sve_vl)]
        sepc_step(run, "run", timeout)

        worst = 0.0
        for name in model["outputs"]:
            want = np.load(case / f"expected.{name}.npy")
            produced = out / f"{name}.npy"
            if not produced.is_file():
                raise CaseFailure(f"no output file {name}.npy")
            got = np.load(produced)
            if got.dtype != np.float32 or got.shape != want.shape:
                raise CaseFailure(f"{name}: got {got.dtype}{list(got.shape)}, "
                                  f"want float32{list(want.shape)}")
            error = scaled_error(got, want)
            # `not <=` so that a NaN error fails too.
            if not error <= TOLERANCE:
                raise CaseFailure(f"{name}: max error {error:.3g} (scaled) exceeds {TOLERANCE:g}")
            worst = max(worst, error)
    return f"max error {worst:.2g}, compile {compile_seconds:.1f}s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", type=Path,
                        help="case folders, or folders of cases (default: the repository's)")
    parser.add_argument("--target", default="host")
    parser.add_argument("--sve-vl", type=int, default=None,
                        help="emulated SVE vector length in bits for `sepc run`")
    parser.add_argument("--sepc", default="sepc",
                        help="how to invoke the compiler, e.g. 'python -m sepc'")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per sepc command")
    args = parser.parse_args()

    sepc = shlex.split(args.sepc)
    passed = failed = 0
    for case in find_cases(args.cases or [DEFAULT_CASES]):
        try:
            detail, ok = check_case(case, sepc, args.target, args.sve_vl, args.timeout), True
        except CaseFailure as failure:
            detail, ok = str(failure), False
        except subprocess.TimeoutExpired:
            detail, ok = f"timed out after {args.timeout:g}s", False
        passed += ok
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {case.name} [{args.target}]: {detail}", flush=True)
    print(f"conformance: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
