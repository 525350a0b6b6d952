"""Per-kernel-kind schedules: how to tile the root, what to do to the fused main op, and
which vector sizes each part gets. Each kind is a small class; `SCHEDULES` maps the
`sep.kernel` tag the lowering puts on a chain's root to its schedule.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

from ..targets import Target
from .kernel import Kernel
from .script import Script
from .tiles import divisor_tile


class Schedule(ABC):
    @abstractmethod
    def root_tiles(self, k: Kernel, t: Target) -> list[int]:
        """Tile sizes of the chain's root (its last op); 0 leaves a dimension whole."""

    def refine_main(self, s: Script, main: str, k: Kernel, t: Target) -> None:
        """Further tiling of the fused main op (e.g. down to a 1-D conv); default: none."""

    def main_vector_sizes(self, k: Kernel, t: Target) -> list[int] | None:
        """Vector sizes for the main op; None leaves it to scalar loops."""
        return None

    def root_vector_sizes(self, k: Kernel, t: Target) -> list[int]:
        return [tile or extent for tile, extent in zip(self.root_tiles(k, t), k.root_shape)]


class Depthwise2D(Schedule):
    """Rows of Wt output pixels x one channel vector; KH is a loop and the 1-D conv that
    remains after decomposition keeps its Wt accumulators in registers across KW."""

    def width(self, k: Kernel, t: Target) -> int:
        return divisor_tile(k.main_operand_shapes[2][2], t.strategy.depthwise_width)

    def root_tiles(self, k, t):
        return [1, 1, self.width(k, t), t.lanes]

    def refine_main(self, s, main, k, t):
        per_row, _ = s.tile(main, [0, 0, 0, 0, 1, 0])
        s.annotate(s.decompose(per_row), k.part("main"))

    def main_vector_sizes(self, k, t):
        kernel_width = k.main_operand_shapes[1][1]
        return [1, self.width(k, t), t.lanes, kernel_width]


class Depthwise1D(Schedule):
    def width(self, k, t):
        return divisor_tile(k.main_operand_shapes[2][1], t.strategy.depthwise_width)

    def root_tiles(self, k, t):
        return [1, self.width(k, t), t.lanes]

    def main_vector_sizes(self, k, t):
        return [1, self.width(k, t), t.lanes, k.main_operand_shapes[1][0]]


class Matmul(Schedule):
    """An MxN register block of accumulators; K steps one at a time so each step is a
    broadcast of A times a row of B (outer-product FMAs), and the accumulators are
    hoisted out of the K loop after bufferization."""

    def root_tiles(self, k, t):
        return [t.strategy.matmul_rows, t.strategy.matmul_vectors * t.lanes]

    def refine_main(self, s, main, k, t):
        s.tile(main, [0, 0, 1])

    def main_vector_sizes(self, k, t):
        return self.root_tiles(k, t) + [1]


class Conv2D(Schedule):
    """A general conv: like depthwise, plus a reduction over input channels in chunks.
    The filter tile divides the filter count: the 1-D conv vectorizer cannot mask it."""

    def width(self, k, t):
        return divisor_tile(k.main_operand_shapes[2][2], t.strategy.depthwise_width)

    def filters(self, k, t):
        return divisor_tile(k.main_operand_shapes[1][-1], t.lanes)

    def channel_chunk(self, k):
        return divisor_tile(k.main_operand_shapes[1][2], 16)

    def root_tiles(self, k, t):
        return [1, 1, self.width(k, t), self.filters(k, t)]

    def refine_main(self, s, main, k, t):
        per_row, _ = s.tile(main, [0, 0, 0, 0, 1, 0, self.channel_chunk(k)])
        s.annotate(s.decompose(per_row), k.part("main"))

    def main_vector_sizes(self, k, t):
        kernel_width = k.main_operand_shapes[1][1]
        return [1, self.width(k, t), self.filters(k, t), kernel_width, self.channel_chunk(k)]


class Conv1D(Conv2D):
    def width(self, k, t):
        return divisor_tile(k.main_operand_shapes[2][1], t.strategy.depthwise_width)

    def channel_chunk(self, k):
        return divisor_tile(k.main_operand_shapes[1][1], 16)

    def root_tiles(self, k, t):
        return [1, self.width(k, t), self.filters(k, t)]

    def refine_main(self, s, main, k, t):
        s.tile(main, [0, 0, 0, 0, self.channel_chunk(k)])

    def main_vector_sizes(self, k, t):
        return [1, self.width(k, t), self.filters(k, t), k.main_operand_shapes[1][0],
                self.channel_chunk(k)]


class Pool2D(Depthwise2D):
    """Pooling decomposes and vectorizes like a depthwise conv (its window is the kernel),
    but the pooling vectorizer cannot mask channels: the channel tile divides C."""

    def channels(self, k, t):
        return divisor_tile(k.main_operand_shapes[0][-1], t.lanes)

    def root_tiles(self, k, t):
        return [1, 1, self.width(k, t), self.channels(k, t)]

    def main_vector_sizes(self, k, t):
        return [1, self.width(k, t), self.channels(k, t), k.main_operand_shapes[1][1]]


class Elementwise(Schedule):
    """Channel vectors over a few rows; the ragged edges are masked."""

    def root_tiles(self, k, t):
        shape = k.root_shape
        rows = min(shape[-2], 8) if len(shape) >= 2 else 0
        return [1] * (len(shape) - 2) + [rows, t.lanes] if len(shape) >= 2 else [t.lanes]

    def main_vector_sizes(self, k, t):
        # The main op of an elementwise chain (e.g. a batch norm) is elementwise too.
        return self.root_vector_sizes(k, t)


SCHEDULES: dict[str, Schedule] = {
    "depthwise2d": Depthwise2D(),
    "depthwise1d": Depthwise1D(),
    "matmul": Matmul(),
    "conv2d": Conv2D(),
    "conv1d": Conv1D(),
    "pool2d": Pool2D(),
    "elementwise": Elementwise(),
}
