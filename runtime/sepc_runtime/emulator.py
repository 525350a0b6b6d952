"""Running an aarch64 library on another machine: qemu-aarch64 and a small C harness.

The harness (harness.c, shipped with this package) is cross-compiled on first use and
cached by the hash of its source. It loads the library, calls the entry point once on raw
float32 files and reports the SVE vector length it ran at, which is checked against the
one asked for: an emulator silently running at its default length would test nothing.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from .manifest import Manifest

QEMU = "qemu-aarch64"
CROSS_CC = "aarch64-linux-gnu-gcc"
SYSROOT = "/usr/aarch64-linux-gnu"
DEBIAN_PACKAGE = {QEMU: "qemu-user", CROSS_CC: "gcc-aarch64-linux-gnu"}


class EmulatorError(Exception):
    """The emulated run could not happen or failed; the message says why."""


def require(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise EmulatorError(f"'{tool}' not found: install the Debian package "
                            f"{DEBIAN_PACKAGE[tool]} (and libc6-dev-arm64-cross)")
    return found


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sepc"


def harness() -> Path:
    """The aarch64 harness executable, built on first use."""
    source = resources.files(__package__).joinpath("harness.c").read_bytes()
    path = cache_dir() / f"sepc_harness-{hashlib.sha256(source).hexdigest()[:16]}"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        c_file, built = Path(tmp) / "harness.c", Path(tmp) / "sepc_harness"
        c_file.write_bytes(source)
        done = subprocess.run([require(CROSS_CC), "-O2", "-o", str(built), str(c_file), "-ldl"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise EmulatorError(f"building the aarch64 harness failed: {done.stderr.strip()}")
        os.replace(built, path)  # atomic: concurrent first runs each build, one wins
    return path


def qemu_command(sve_vl: int | None) -> list[str]:
    cpu = "max"
    if sve_vl is not None:
        cpu += f",sve{sve_vl}=on,sve-default-vector-length={sve_vl // 8}"
    return [require(QEMU), "-cpu", cpu, "-L", SYSROOT]


def run_emulated(manifest: Manifest, arrays: dict[str, np.ndarray],
                 sve_vl: int | None) -> tuple[dict[str, np.ndarray], int]:
    """Run the manifest's library once under qemu; returns the outputs and the SVE vector
    length (bits, 0 without SVE) the harness saw."""
    library = Path(manifest.library_path)
    if not library.is_file():
        raise EmulatorError(f"{library}: the manifest's library is missing")
    if hashlib.sha256(library.read_bytes()).hexdigest() != manifest.library_sha256:
        raise EmulatorError(f"{library} does not match the manifest's library_sha256")
    with tempfile.TemporaryDirectory(prefix="sepc-qemu-") as tmp:
        files: list[str] = []
        for spec in manifest.inputs:
            data = np.ascontiguousarray(arrays[spec.name], dtype=np.float32)
            path = Path(tmp) / f"in{len(files)}.bin"
            path.write_bytes(data.tobytes())
            files.append(f"{path}:{data.nbytes}")
        out_paths = []
        for i, spec in enumerate(manifest.outputs):
            path = Path(tmp) / f"out{i}.bin"
            out_paths.append(path)
            files.append(f"{path}:{int(np.prod(spec.shape)) * 4}")
        command = [*qemu_command(sve_vl), str(harness()), manifest.library_path, manifest.entry,
                   str(len(manifest.inputs)), str(len(manifest.outputs)), *files]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise EmulatorError(f"{manifest.library_path} under qemu-aarch64 failed "
                                f"(exit {done.returncode}): {done.stderr.strip()[-1000:]}")
        vl_bits = int(done.stdout.strip().rsplit("sve_vl_bits=", 1)[-1])
        outputs = {spec.name: np.fromfile(path, dtype=np.float32).reshape(spec.shape)
                   for spec, path in zip(manifest.outputs, out_paths, strict=True)}
    if sve_vl is not None and vl_bits != sve_vl:
        raise EmulatorError(f"asked qemu for SVE vectors of {sve_vl} bits, the library ran "
                            f"with {vl_bits}")
    return outputs, vl_bits
