"""Building a kernel's sub-model with one candidate strategy and loading it, bound to the
group's input arrays, its output checked against the default build's."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import sepc_runtime

from ..driver import compile_file
from ..errors import UserError
from .candidates import Decisions
from .timing import Timed

# The tests' acceptance rule: max |got - want| / max(1, max |want|). A candidate only
# reorders sums, so it stays far below.
TOLERANCE = 1e-4


@dataclass
class Workspace:
    """Where one group's sub-model and its builds live, and what every build shares."""
    folder: Path
    model: Path                     # the sub-model's model.json
    layer: str                      # the kernel's layer: its strategy file's key
    kind: str
    target: str
    threads: int
    seed: int
    inputs: dict[str, np.ndarray]   # one set of input arrays, read by every build


def workspace(folder: Path, model: dict[str, Any], layer: str, kind: str, target: str,
              threads: int, seed: int) -> Workspace:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.json"
    path.write_text(json.dumps(model, indent=1))
    rng = np.random.default_rng(seed)
    inputs = {name: rng.standard_normal(spec["shape"]).astype(np.float32)
              for name, spec in model["inputs"].items()}
    return Workspace(folder, path, layer, kind, target, threads, seed, inputs)


@dataclass
class Build:
    decisions: Decisions
    timed: Timed
    outputs: dict[str, np.ndarray]
    compile_s: float


def build(ws: Workspace, decisions: Decisions, index: int) -> Build:
    """Compile the sub-model with every decision of the kernel fixed, load it and bind it.
    A UserError means the compiler refused the strategy; any other error, that it failed."""
    out = ws.folder / f"build{index}"
    out.mkdir(exist_ok=True)
    strategy = out / "strategy.json"
    strategy.write_text(json.dumps({ws.layer: {"kind": ws.kind} | decisions}))
    start = time.monotonic()
    manifest = compile_file(str(ws.model), ws.target, str(out), ws.seed, "auto", ws.threads,
                            ("shared",), str(strategy))
    seconds = time.monotonic() - start
    model = sepc_runtime.load(manifest, threads=ws.threads)
    outputs = {name: np.empty(shape, np.float32) for name, shape, _ in model.outputs}
    call = model.bind(ws.inputs, out=outputs)
    return Build(decisions, Timed(call, list(ws.inputs.values())), outputs, seconds)


def scaled_error(got: np.ndarray, want: np.ndarray) -> float:
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    return float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale


def disagreement(candidate: Build, reference: Build) -> str | None:
    """Why the candidate's outputs differ from the reference's, or None: a strategy that
    changes the result is a compiler bug, never a faster kernel."""
    candidate.timed.call()
    reference.timed.call()
    for name, want in reference.outputs.items():
        got = candidate.outputs[name]
        if not np.isfinite(got).all() and np.isfinite(want).all():
            return f"output {name} not finite"
        error = scaled_error(got, want)
        if not error <= TOLERANCE:
            return f"output {name} off by {error:.2g}"
    return None


def try_build(ws: Workspace, decisions: Decisions, index: int) -> Build | str:
    """A build, or why there is none (in one line)."""
    try:
        return build(ws, decisions, index)
    except UserError as e:
        return f"refused: {e}"
    except Exception as e:     # a compiler failure costs one candidate, not the run
        return f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
