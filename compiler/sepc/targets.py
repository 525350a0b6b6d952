"""The targets sepc compiles for, as a table of data.

A row says how to call LLVM (triple, CPU, features), how wide a vector register is, the
tile sizes the schedules start from and the memory facts their cost models use. Adding a
target is adding a row.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sepc_runtime import host_arch, host_cpu_flags

from .errors import UserError


@dataclass(frozen=True)
class Tiling:
    """Tile sizes the schedules' cost models start from (they shrink them to fit each layer).

    depthwise_width: output columns per depthwise tile (each a vector of channels held in a
      register across the kernel window).
    matmul_rows, matmul_vectors: the pointwise micro-kernel is matmul_rows x
      (matmul_vectors * lanes) accumulators, sized to fit the register file with room for
      the broadcast operands.
    fuse_separable: a depthwise conv and the 1x1 conv it feeds become one kernel
      (passes/fuse_separable.py, schedules/separable.py).
    pack_matmul: lone 1x1 convs and dense layers read their weights packed in panels
      (passes/pack_matmul_weights.py, the packed_matmul kind).
    conv_filter_vectors: a general conv's register block is depthwise_width pixels x up to
      this many vectors of filters: each broadcast input value feeds that many FMAs.
    """
    depthwise_width: int = 8
    matmul_rows: int = 8
    matmul_vectors: int = 2
    fuse_separable: bool = False
    pack_matmul: bool = False
    conv_filter_vectors: int = 1


@dataclass(frozen=True)
class Memory:
    """The machine facts the cost models use, in bytes.

    l1d: the smallest L1 data cache of the cores the target runs on; a depthwise tile keeps
      one channel vector of its input within half of it.
    l2: the L2 per core the cost models assume (1 MiB, as on Skylake-SP and Zen 4; the
      same default on every row): a lone 1x1 conv whose weights take more than half of
      it reads each block of them once (packed_matmul).
    tile_budget: what one tile's buffers may take, so that they and a block of weights stay
      in L2 while the tile's rows reuse them.
    line: a cache line; packed 1x1 weight panels are one line of f32 wide.
    prefetch_min_bytes: packed weights from this size on are prefetched a block ahead (in a
      network they come from DRAM; smaller ones arrive in a few microseconds anyway).
    prefetch_rows_ahead: how far ahead a dense layer's weight rows are prefetched.
    """
    l1d: int = 32 * 1024
    l2: int = 1024 * 1024
    tile_budget: int = 256 * 1024
    line: int = 64
    prefetch_min_bytes: int = 256 * 1024
    prefetch_rows_ahead: int = 8


@dataclass(frozen=True)
class Target:
    name: str
    triple: str
    arch: str                 # platform.machine() of a device that runs it
    cpu: str
    features: str
    vector_bits: int          # 0: no vector unit assumed
    registers: int
    scalable: bool = False
    vector_dialect_options: str = ""   # extra convert-vector-to-llvm options
    openmp: bool = False      # tiles run as OpenMP parallel loops (needs the target's libomp)
    tiling: Tiling = field(default_factory=Tiling)
    memory: Memory = field(default_factory=Memory)
    # Threads the cost models plan work for: a layer is split into at least this many tiles.
    planned_threads: int = 2
    # The CPU flags, as /proc/cpuinfo spells them, a device needs to run the code: the
    # manifest carries them so the runtime refuses a library the CPU cannot execute.
    required_cpu_flags: tuple[str, ...] = ()

    @property
    def lanes(self) -> int:
        """f32 lanes in one vector register (the minimum, for scalable targets)."""
        return max(self.vector_bits // 32, 1)

    @property
    def line_floats(self) -> int:
        return self.memory.line // 4


TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("x86-avx512", "x86_64-unknown-linux-gnu", "x86_64", "skylake-avx512",
           "+avx512f,+avx512dq,+avx512bw,+avx512vl,+fma", 512, 32,
           vector_dialect_options="enable-x86vector=true", openmp=True,
           tiling=Tiling(depthwise_width=8, matmul_rows=8, matmul_vectors=2,
                             fuse_separable=True, pack_matmul=True,
                             conv_filter_vectors=2),
           required_cpu_flags=("avx512f", "avx512dq", "avx512bw", "avx512vl", "fma")),
    Target("x86-avx2", "x86_64-unknown-linux-gnu", "x86_64", "haswell",
           "+avx2,+fma", 256, 16,
           vector_dialect_options="enable-x86vector=true", openmp=True,
           tiling=Tiling(depthwise_width=6, matmul_rows=6, matmul_vectors=2,
                             fuse_separable=True, pack_matmul=True,
                             conv_filter_vectors=2),
           required_cpu_flags=("avx2", "fma")),
    # 32 q-registers: 8 x 2 accumulators plus operands for the pointwise micro-kernel.
    Target("arm-neon", "aarch64-unknown-linux-gnu", "aarch64", "generic", "+neon", 128, 32,
           vector_dialect_options="enable-arm-neon=true",
           tiling=Tiling(depthwise_width=8, matmul_rows=8, matmul_vectors=2),
           required_cpu_flags=("asimd",)),
    # Vector-length agnostic: vectors are vscale x 128 bits, one binary for every SVE core.
    Target("arm-sve", "aarch64-unknown-linux-gnu", "aarch64", "generic", "+neon,+sve", 128, 32,
           scalable=True, vector_dialect_options="enable-arm-sve=true",
           tiling=Tiling(depthwise_width=8, matmul_rows=8, matmul_vectors=2),
           required_cpu_flags=("asimd", "sve")),
]}


def host_target_name() -> str:
    """The row that fits the machine sepc runs on: of the rows of this architecture whose
    required CPU flags the machine has, the one that requires the most."""
    arch = host_arch()
    flags = host_cpu_flags()
    fitting = [t for t in TARGETS.values() if t.arch == arch and set(t.required_cpu_flags) <= flags]
    if fitting:
        return max(fitting, key=lambda t: len(t.required_cpu_flags)).name
    raise UserError(f"--target host: no target row fits this machine ({arch}); "
                    f"name one of {', '.join(sorted(TARGETS))}")


def missing_cpu_flags(target: Target) -> list[str]:
    """The CPU flags the target's code needs that this machine lacks."""
    flags = host_cpu_flags()
    return [f for f in target.required_cpu_flags if f not in flags]


def resolve_target(name: str) -> Target:
    if name == "host":
        name = host_target_name()
    if name not in TARGETS:
        raise UserError(f"--target: unknown target '{name}', expected one of "
                        f"host, {', '.join(sorted(TARGETS))}")
    return TARGETS[name]
