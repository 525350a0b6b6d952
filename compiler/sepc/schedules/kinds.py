"""Per-kernel-kind schedules. Each kind says, for one layer's chain:

- `root_tiles`: the `scf.forall` tiles of the chain's root, into which the chain fuses;
- `inner_tiles(role)`: a further `scf.for` tiling of one fused op (0 = leave whole), e.g.
  the kernel-height loop of a depthwise conv before it is decomposed to 1-D;
- `vector_sizes(role)`: how each part is vectorized (None: leave it to scalar loops).

On a scalable (SVE) target the channel dimension cannot be a forall tile (the forall
tiling takes `[4]` as a fixed 4), so it stays whole there and each fused op gets its own
scalable channel loop; the vectors are `[4]` lanes, masked on the tail.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..targets import Target
from .kernel import Kernel
from .tiles import divisor_tile


@dataclass(frozen=True)
class Scalable:
    """A size multiplied by the hardware's vscale, printed `[n]` in transform IR."""
    base: int

    def __str__(self) -> str:
        return f"[{self.base}]"


def channel_vector(t: Target, vectors: int = 1):
    """Channels per vector step: fixed lanes, or scalable lanes on a scalable target."""
    return Scalable(vectors * t.lanes) if t.scalable else vectors * t.lanes


def forall_channel(t: Target, vectors: int = 1) -> int:
    return 0 if t.scalable else vectors * t.lanes


def inner_channel(t: Target, vectors: int = 1):
    return Scalable(vectors * t.lanes) if t.scalable else 0


class Schedule(ABC):
    @abstractmethod
    def root_tiles(self, k: Kernel, t: Target) -> list[int]:
        """Forall tile sizes of the chain's root (its last op); 0 leaves a dimension whole."""

    def inner_tiles(self, k: Kernel, t: Target, role: str) -> list | None:
        return None

    def peels(self, k: Kernel, t: Target) -> bool:
        """Whether the main op's scalable channel loop is peeled. Its full steps then need
        no masks, so their accumulators stay in registers across the reduction (masked
        transfers are not hoisted); only the last step is masked. Only for kinds whose
        other tile sizes divide their dimensions: the full steps are vectorized assuming
        every dynamic size equals its vector size."""
        return False

    def decomposes(self) -> bool:
        """Whether the main op is a 2-D window op to decompose into 1-D after tiling."""
        return False

    @abstractmethod
    def vector_sizes(self, k: Kernel, t: Target, role: str) -> list | None:
        """Vector sizes for the op in `role`, or None to leave it unvectorized."""

    def named_contraction(self, role: str) -> bool:
        """Vectorize `role` to vector.contract rather than mul/add with broadcast reads."""
        return False

    def extra_roles(self, k: Kernel, t: Target) -> list[str]:
        """Tags that `tile_fused` adds, each vectorized with `vector_sizes(role)`."""
        return []

    def tile_fused(self, s, k: Kernel, t: Target, fused: dict) -> bool:
        """Build the loops inside the root forall for a kind whose nest is not the plain
        per-part tiling of `tiling_script`; `fused` maps roles to their fused ops.
        Returns whether it did."""
        return False


class Depthwise2D(Schedule):
    """Rows of Wt output pixels x one channel vector; KH is a loop and the 1-D conv that
    remains after decomposition keeps its Wt accumulators in registers across KW."""

    def width(self, k: Kernel, t: Target) -> int:
        return divisor_tile(k.main_operand_shapes[2][2], t.strategy.depthwise_width)

    def channels(self, k, t):
        return channel_vector(t)

    def root_tiles(self, k, t):
        return [1, 1, self.width(k, t), forall_channel(t)]

    def inner_tiles(self, k, t, role):
        if role == "main":
            return [0, 0, 0, inner_channel(t), 1, 0]
        return [0, 0, 0, inner_channel(t)] if t.scalable else None

    def decomposes(self):
        return True

    def peels(self, k, t):
        return t.scalable

    def vector_sizes(self, k, t, role):
        if role == "main":
            return [1, self.width(k, t), self.channels(k, t), k.main_operand_shapes[1][1]]
        return [1, 1, self.width(k, t), self.channels(k, t)]


class Depthwise1D(Schedule):
    def width(self, k, t):
        return divisor_tile(k.main_operand_shapes[2][1], t.strategy.depthwise_width)

    def root_tiles(self, k, t):
        return [1, self.width(k, t), forall_channel(t)]

    def inner_tiles(self, k, t, role):
        if not t.scalable:
            return None
        return [0, 0, inner_channel(t), 0] if role == "main" else [0, 0, inner_channel(t)]

    def peels(self, k, t):
        return t.scalable

    def vector_sizes(self, k, t, role):
        if role == "main":
            return [1, self.width(k, t), channel_vector(t), k.main_operand_shapes[1][0]]
        return [1, self.width(k, t), channel_vector(t)]


class Matmul(Schedule):
    """An MxN register block of accumulators; K steps one at a time so each step is a
    broadcast of A times a row of B (outer-product FMAs); the accumulators are hoisted
    out of the K loop into registers."""

    def rows(self, k, t):
        """A row tile that divides M when one of at least half the strategy's rows exists
        (no ragged last tile), else the strategy's rows with the last tile masked. Never
        more than the strategy's rows: the accumulators must fit the register file. On
        fixed-width targets an M below the strategy's rows (a batch-1 dense layer: M = 1)
        is one tile of M rows. (SVE keeps its block: llc fails on contractions of more
        scalable vectors.)"""
        preferred = t.strategy.matmul_rows
        m = k.main_operand_shapes[0][0]
        if m < preferred and not t.scalable:
            return m
        dividing = max(d for d in range(1, min(m, preferred) + 1) if m % d == 0)
        return dividing if 2 * dividing >= preferred else preferred

    def vectors(self, k, t):
        """Vectors of columns per row: the strategy's register block, its rows traded for
        columns when M is short. A batch-1 dense layer then streams whole 1 KiB runs of
        each weight row (16 zmm) instead of 128 bytes every 4 KiB, which left it
        latency-bound on its weights."""
        if t.scalable:
            return t.strategy.matmul_vectors
        block = t.strategy.matmul_rows * t.strategy.matmul_vectors
        return max(t.strategy.matmul_vectors, block // self.rows(k, t))

    def columns(self, k, t):
        return channel_vector(t, self.vectors(k, t))

    def root_tiles(self, k, t):
        return [self.rows(k, t), forall_channel(t, self.vectors(k, t))]

    def peels(self, k, t):
        return t.scalable and k.main_operand_shapes[0][0] % self.rows(k, t) == 0

    def inner_tiles(self, k, t, role):
        n = inner_channel(t, self.vectors(k, t))
        if role == "main":
            return [0, n, 1]
        return [0, n] if t.scalable else None

    def vector_sizes(self, k, t, role):
        return [self.rows(k, t), self.columns(k, t)] + ([1] if role == "main" else [])

    def named_contraction(self, role):
        # Folding the unit-K contraction to mul/add reads A through a transposing
        # broadcast, which cannot be lowered for scalable vectors.
        return role == "main"


class Conv2D(Schedule):
    """A general conv: like depthwise, plus a reduction over input channels in chunks.
    The filter tile divides the filter count, with fixed-width vectors even on a scalable
    target: the 1-D conv vectorizer can mask neither filters nor scalable dimensions."""

    def width(self, k, t):
        return divisor_tile(k.main_operand_shapes[2][2], t.strategy.depthwise_width)

    def filters(self, k, t):
        return divisor_tile(k.main_operand_shapes[1][-1], t.lanes * t.strategy.conv_filter_vectors)

    def channel_chunk(self, k):
        return divisor_tile(k.main_operand_shapes[1][2], 16)

    def root_tiles(self, k, t):
        return [1, 1, self.width(k, t), self.filters(k, t)]

    def inner_tiles(self, k, t, role):
        return [0, 0, 0, 0, 1, 0, self.channel_chunk(k)] if role == "main" else None

    def decomposes(self):
        return True

    def vector_sizes(self, k, t, role):
        if role == "main":
            return [1, self.width(k, t), self.filters(k, t), k.main_operand_shapes[1][1],
                    self.channel_chunk(k)]
        return [1, 1, self.width(k, t), self.filters(k, t)]


class Conv1D(Conv2D):
    def width(self, k, t):
        return divisor_tile(k.main_operand_shapes[2][1], t.strategy.depthwise_width)

    def channel_chunk(self, k):
        return divisor_tile(k.main_operand_shapes[1][1], 16)

    def root_tiles(self, k, t):
        return [1, self.width(k, t), self.filters(k, t)]

    def inner_tiles(self, k, t, role):
        return [0, 0, 0, 0, self.channel_chunk(k)] if role == "main" else None

    def decomposes(self):
        return False

    def vector_sizes(self, k, t, role):
        if role == "main":
            return [1, self.width(k, t), self.filters(k, t), k.main_operand_shapes[1][0],
                    self.channel_chunk(k)]
        return [1, self.width(k, t), self.filters(k, t)]


class Pool2D(Depthwise2D):
    """Pooling decomposes and vectorizes like a depthwise conv (its window is the kernel),
    but the pooling vectorizer masks neither channels nor scalable dimensions: the channel
    tile divides C and vectors are fixed-width."""

    def channels(self, k, t):
        return divisor_tile(k.main_operand_shapes[0][-1], t.lanes)

    def root_tiles(self, k, t):
        return [1, 1, self.width(k, t), self.channels(k, t)]

    def inner_tiles(self, k, t, role):
        return [0, 0, 0, 0, 1, 0] if role == "main" else None

    def peels(self, k, t):
        return False


class Elementwise(Schedule):
    """Channel vectors over a few rows; the ragged edges are masked."""

    def rows(self, k):
        return min(k.root_shape[-2], 8) if len(k.root_shape) >= 2 else 0

    def leading(self, k):
        return [1] * max(len(k.root_shape) - 2, 0) + ([self.rows(k)] if len(k.root_shape) >= 2 else [])

    def root_tiles(self, k, t):
        return self.leading(k) + [forall_channel(t)]

    def inner_tiles(self, k, t, role):
        return [0] * len(self.leading(k)) + [inner_channel(t)] if t.scalable else None

    def vector_sizes(self, k, t, role):
        # The main op of an elementwise chain (e.g. a batch norm) is elementwise too.
        return self.leading(k) + [channel_vector(t)]


SCHEDULES: dict[str, Schedule] = {
    "depthwise2d": Depthwise2D(),
    "depthwise1d": Depthwise1D(),
    "matmul": Matmul(),
    "conv2d": Conv2D(),
    "conv1d": Conv1D(),
    "pool2d": Pool2D(),
    "elementwise": Elementwise(),
}
