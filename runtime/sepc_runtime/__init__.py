"""Run models compiled by sepc from Python (the contract: shared/spec/runtime.md).

    model = sepc_runtime.load("build/mobilenet_block.json")
    y = model(x)
    ys = model.run({"x": x}, out={"pw1": buf})

Imports only the standard library, ctypes and NumPy, so it ships alone to a device that
has Python but no compiler.
"""
from __future__ import annotations

import os

from .library import load_entry, load_thread_control
from .manifest import (LoadError, Manifest, TensorSpec, host_arch, host_cpu_flags, is_native,
                       missing_cpu_flags, parse_manifest, read_manifest)
from .model import Model

__all__ = ["LoadError", "Manifest", "Model", "TensorSpec", "host_arch", "host_cpu_flags",
           "is_native", "load", "missing_cpu_flags", "parse_manifest", "read_manifest"]


def load(path: str | os.PathLike[str], threads: int | None = None) -> Model:
    """Loads the model of a manifest (NAME.json; its .so lies beside it).

    threads: how many threads one call may use; default what the library was built for.
    Raises LoadError when the manifest is malformed or its library is missing, built for
    another architecture or for CPU features this machine lacks, or not the one the
    manifest's hash names.
    """
    manifest = read_manifest(path)
    threads = _threads_to_use(threads, manifest)
    if manifest.arch != host_arch():
        raise LoadError(f"{manifest.path}: the library is built for {manifest.arch}, but this "
                        f"machine is {host_arch()}")
    missing = missing_cpu_flags(manifest)
    if missing:
        # Loading it anyway would end the process with SIGILL at the first such instruction.
        target = manifest.fields.get("resolved_target", "?")
        raise LoadError(f"{manifest.path}: the library ({target}) needs the CPU flags "
                        f"{', '.join(missing)}, which this machine lacks; compile it for "
                        f"--target host")
    entry = load_entry(manifest)
    return Model(manifest, entry, threads, load_thread_control(manifest))


def _threads_to_use(threads: int | None, manifest: Manifest) -> int:
    if threads is None:
        return manifest.threads
    if not isinstance(threads, int) or isinstance(threads, bool):
        raise TypeError(f"threads: expected an integer, got {type(threads).__name__}")
    if threads < 1:
        raise ValueError(f"threads={threads}: expected at least 1")
    # A parallel build takes any thread count; a serial one, 1 or what it was built for.
    if "thread_control" not in manifest.fields and threads not in (1, manifest.threads):
        allowed = "1" if manifest.threads == 1 else f"1 or {manifest.threads}"
        raise ValueError(f"threads={threads}: the library of model '{manifest.name}' was built "
                         f"for {manifest.threads} thread(s) and can use {allowed}")
    return threads
