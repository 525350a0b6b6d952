"""The fused separable kernel: a depthwise conv and the 1x1 conv it feeds, in one loop nest.

Loop nest (2-D; the 1-D kernel is the same with the row loop stepping over blocks of W):

    forall tile of (rows x block of W pixels x filters):    <- threads split these tiles
      for rows, for channel vectors:  depthwise tile -> a small buffer (L1/L2), bias and
                                      activation applied in registers
      for panel blocks of filters:    <- one block of packed weights, reused by every row
        for rows:
          accumulators = bias         <- a register block of pixels x filters
          for channels:  accumulators += depthwise pixel (broadcast) x weight panel row
          store activation(accumulators)

The depthwise result lives only in the tile's buffer: it never goes to memory as a whole.

Cost model (`SeparablePlan.choose`):
- Register block: `pixels x panels` accumulators of 16 lanes, as many as the register file
  holds next to the operands of one channel step (the panels' weight vectors and one
  broadcast pixel; more and the block spills), with the pixel count dividing the width (the vectorizer cannot mask the width). Among blocks with
  the most accumulators, the one with the fewest loads per FMA: loads per channel step are
  pixels + panel vectors, FMAs are pixels x panel vectors. Where two rows of that block
  still fit (a 7-wide layer: 7 x 2 = 14 accumulators), the block takes two rows; an odd
  last row of the tile is peeled off as one-row blocks.
- Depthwise block: the most pixels dividing the pointwise block whose accumulators and
  input row fit the registers (stride-2 rows of 14 pixels would spill).
- Depthwise loop order: rows outside channel vectors streams each input row from L2 once
  per output row that reads it (three times for 3x3). Channel vectors outside rows read
  each input line once and reuse it from L1 where one channel vector of the input fits in
  half of it: of the whole tile (the 14x14 and 7x7 layers), else of a band of columns
  (`dw_band`, the widest multiple of the depthwise block that fits: 14 of the 56 and 28
  columns), the bands then outermost.
- Tile: as many rows as keep the depthwise buffer within `TILE_BYTES` (it and the panel
  block stay in L2 while the rows reuse them); each tile reads all its weights once from
  beyond L2, so fewer, taller tiles read less. If that leaves fewer than `MIN_TILES` tiles
  for threads to share, either the filters are split (each tile then re-reads its input
  and recomputes its depthwise rows) or the rows (each tile then reads all the weights),
  whichever reads less: the filters when the weights outweigh twice the tile's input, as
  in the 7x7x1024 layers. (A single tile would also leave nothing to fuse into.)
"""
from __future__ import annotations

from dataclasses import dataclass

from ..passes.fuse_separable import PANEL
from ..targets import Target
from .kernel import Kernel
from .kinds import Schedule

TILE_BYTES = 256 * 1024
# Half of the smallest L1 data cache of the targets' cores (32 KiB).
L1_HALF_BYTES = 16 * 1024
REST = "_rest"     # tag suffix of the parts of an odd last row
MIN_TILES = 2


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def stride_area(k: Kernel) -> int:
    """Input pixels per output pixel of the depthwise conv (its strides' product)."""
    x, _, out = k.operand_shapes["dw_main"]
    return max(1, round((x[1] * (x[2] if len(x) == 4 else 1))
                        / (out[1] * (out[2] if len(out) == 4 else 1))))


def width_stride(k: Kernel) -> int:
    x, _, out = k.operand_shapes["dw_main"]
    return max(1, round(x[-2] / out[-2]))


def depthwise_pixels(k: Kernel, t: Target, pixels: int) -> int:
    """The depthwise register block: the most pixels, dividing the pointwise block, whose
    accumulators and input vectors (stride x (pixels - 1) + window) fit in registers. The
    vectorized 1-D conv loads the whole input row before its FMAs, so a block past that
    spills (a 14-pixel stride-2 row did: 29 inputs + 14 accumulators); a filter tap can
    be reloaded from L1 instead, so taps are not counted."""
    window = k.operand_shapes["dw_main"][1][-2]
    stride = width_stride(k)
    fits = [d for d in divisors(pixels)
            if d + stride * (d - 1) + window <= t.registers]
    return max(fits or [1])


def depthwise_input_bytes(k: Kernel, t: Target, rows: int, cols: int) -> int:
    """Bytes of one channel vector of the depthwise input of rows x cols outputs (2-D); a
    1-D tile's counts as unbounded (its channel vectors stay inside)."""
    x, kernel, out = k.operand_shapes["dw_main"]
    if len(x) != 4:
        return TILE_BYTES
    extent = [(size - 1) * max(1, round(x[d] / out[d])) + kernel[d - 1]
              for d, size in ((1, rows), (2, cols))]
    return extent[0] * extent[1] * t.lanes * 4


@dataclass(frozen=True)
class SeparablePlan:
    pixels: int        # register block: pixels along the width ...
    panels: int        # ... times panels of 16 filters
    rows: int          # rows (2-D) or register blocks (1-D) per tile
    tile_panels: int   # panels per tile
    channel_vector: int
    cols: int = 0      # 2-D: pixels per tile along the width, a multiple of `pixels`
    dw_pixels: int = 0 # depthwise register block along the width, a divisor of `pixels`
    block_rows: int = 1  # 2-D: rows of the pointwise register block
    dw_band: int = 0   # 2-D: columns per depthwise band, channel vectors outside its rows (0: no bands)

    @staticmethod
    def choose(k: Kernel, t: Target) -> "SeparablePlan":
        x, weights, _ = k.operand_shapes["main"]
        spatial = x[1:-1]
        width, channels, panels = spatial[-1], x[-1], weights[0]
        vectors_per_panel = max(PANEL // t.lanes, 1)

        def cost(block):
            p, q = block
            accumulators = p * q * vectors_per_panel
            return (-accumulators, p + q * vectors_per_panel)

        window = k.operand_shapes["dw_main"][1][-2]
        blocks = [(p, q) for p in divisors(width) for q in divisors(panels)
                  if (p + 1) * q * vectors_per_panel + 1 <= t.registers
                  and 2 * p + window - 1 <= t.registers]
        # Only blocks that leave MIN_TILES tiles to share, where there are such blocks.
        height = spatial[0] if len(spatial) == 2 else 1
        shareable = [(p, q) for p, q in blocks
                     if height * (width // p) * (panels // q) >= MIN_TILES]
        pixels, block_panels = min(shareable or blocks, key=cost)
        # 2-D tiles are bands of whole rows where two rows fit the budget: their input is
        # then one contiguous stretch of memory, which the prefetchers stream, rather than
        # a short piece of every row. Else, and in 1-D, a register block wide.
        cols = pixels
        if len(spatial) == 2:
            cols = max(c for c in divisors(width)
                       if c % pixels == 0 and (c == pixels or 2 * c * channels * 4 <= TILE_BYTES))
        # Rows: of the image (2-D), or of register blocks along the sequence (1-D).
        row_count = spatial[0] if len(spatial) == 2 else width // pixels
        other_tiles = width // cols if len(spatial) == 2 else 1
        row_bytes = cols * channels * 4
        row_options = [d for d in divisors(row_count) if d * row_bytes <= TILE_BYTES or d == 1]
        # The most rows, among row counts that give every thread as many tiles if any do.
        even = [d for d in row_options if (row_count // d) * other_tiles % MIN_TILES == 0]
        rows, tile_panels = max(even or row_options), panels

        def tiles():
            return (row_count // rows) * other_tiles * (panels // tile_panels)

        # Another tile along the filters re-reads the tile's input and recomputes its
        # depthwise rows; another along the rows re-reads all the weights.
        weight_bytes = channels * panels * PANEL * 4
        while tiles() < MIN_TILES:
            can_split_panels = tile_panels % (2 * block_panels) == 0
            can_split_rows = rows > 1
            input_bytes = rows * row_bytes * stride_area(k)
            if can_split_panels and (not can_split_rows or weight_bytes > 2 * input_bytes):
                tile_panels //= 2
            elif can_split_rows:
                rows = max(d for d in row_options if d < rows)
            else:
                break
        # A narrow image (7 wide) leaves the one-row block half the registers: two rows
        # then double the FMAs per weight load (an odd tile's last row is peeled off).
        accumulators = pixels * block_panels * vectors_per_panel
        block_rows = 2 if (len(spatial) == 2 and rows > 1 and cols == pixels and
                           2 * accumulators + block_panels * vectors_per_panel + 1
                           <= t.registers) else 1
        dw_pixels = depthwise_pixels(k, t, pixels)
        bands = [b for b in divisors(cols) if b % dw_pixels == 0
                 and depthwise_input_bytes(k, t, rows, b) <= L1_HALF_BYTES]
        return SeparablePlan(pixels, block_panels, rows, tile_panels, t.lanes, cols,
                             dw_pixels, block_rows, max(bands, default=0))


class Separable(Schedule):
    """Sizes for the root forall; the nested loops are built by `tile_fused`."""

    def __init__(self, rank: int):
        self.rank = rank          # spatial dims: 2 or 1

    def plan(self, k, t) -> SeparablePlan:
        return SeparablePlan.choose(k, t)

    def spatial_tile(self, plan) -> list[int]:
        return [plan.rows, plan.cols] if self.rank == 2 else [plan.rows * plan.pixels]

    def root_tiles(self, k, t):
        plan = self.plan(k, t)
        sizes = [1] + self.spatial_tile(plan) + [plan.tile_panels, 0]
        return sizes + ([0] if k.root_role == "main" else [])

    def row_steps(self, plan, pixels: int, width: int = 0) -> list[list[int]]:
        """Loops down to one register block of `pixels`: rows, then blocks along the
        `width` columns (the tile's by default) (2-D); register blocks (1-D)."""
        if self.rank == 1:
            return [[0, pixels]]
        return [[0, 1, 0]] + ([[0, 0, pixels]] if (width or plan.cols) > pixels else [])

    def tile_fused(self, s, k: Kernel, t: Target, fused: dict) -> bool:
        plan = self.plan(k, t)
        # The 1x1 conv: panel blocks, then rows; init and main fuse into both levels (the
        # rows of two-row blocks are tiled after the depthwise tile: tile_row_blocks).
        reduction = [0] if k.root_role == "main" else []
        producers = [r for r in ("main", "init") if r != k.root_role]
        panel_level = [[0] * (self.rank + 1) + [plan.panels, 0] + reduction]
        if plan.block_rows == 1:
            levels = [step + [0, 0] for step in self.row_steps(plan, plan.pixels)]
            self.nest(s, fused, k.root_role, producers,
                      panel_level + [sizes + reduction for sizes in levels])
            main, _ = s.tile(fused["main"], [0] * (self.rank + 3) + [1])
            s.annotate(main, k.part("main"))
        else:
            self.nest(s, fused, k.root_role, producers, panel_level)
        # The depthwise tile: rows (or register blocks) and channel vectors.
        dw_root = "dw_epilogue" if "dw_epilogue" in fused else "dw_main"
        window = [0] * self.rank if dw_root == "dw_main" else []
        channels = [[0] * (self.rank + 1) + [plan.channel_vector]]
        rows = [step + [0] for step in self.row_steps(plan, plan.dw_pixels, plan.dw_band)]
        bands = [[0, 0, plan.dw_band, 0]] if 0 < plan.dw_band < plan.cols else []
        dw_levels = bands + channels + rows if plan.dw_band else rows + channels
        self.nest(s, fused, dw_root, [r for r in ("dw_main", "dw_init") if r != dw_root],
                  [sizes + window for sizes in dw_levels])
        dw_main = fused["dw_main"]
        if self.rank == 2:
            dw_main, _ = s.tile(dw_main, [0, 0, 0, 0, 1, 0])
            dw_main = s.decompose(dw_main)
        s.annotate(dw_main, k.part("dw_main"))
        if plan.block_rows > 1:
            self.tile_row_blocks(s, k, plan, fused)
        return True

    def tile_row_blocks(self, s, k, plan, fused) -> None:
        """Register blocks of `block_rows` rows, with the bias and the activation fused into
        each block as in one-row blocks (in registers, one store per output): a loop over
        the blocks into which the chain fuses (the depthwise tile it reads is already a
        loop of its own, which stays whole). An odd last row is peeled off that loop; its
        parts, tagged `REST`, are one-row blocks vectorized at their size."""
        reduction = [0] if k.root_role == "main" else []
        _, loop = s.fuse(fused[k.root_role], [0, plan.block_rows, 0, 0, 0] + reduction)
        parts = [(loop, "")]
        if plan.rows % plan.block_rows:
            full, rest = s.peel(loop)
            parts = [(full, ""), (rest, REST)]
        for loop, suffix in parts:
            for role in (r for r in ("init", "main", "epilogue") if r in fused):
                op = s.match_part_in(k.part(role), loop)
                if role == "main":
                    op, _ = s.tile(op, [0] * (self.rank + 3) + [1])
                s.annotate(op, k.part(role + suffix))

    def extra_roles(self, k, t) -> list[str]:
        plan = self.plan(k, t)
        if plan.block_rows > 1 and plan.rows % plan.block_rows:
            return [r + REST for r in ("main", "init", "epilogue") if r in k.roles]
        return []

    @staticmethod
    def nest(s, fused: dict, root: str, producers: list[str], levels: list[list[int]]) -> None:
        """Serial loops, one per level of tile sizes, with the producers fused into each."""
        for sizes in levels:
            fused[root], loop = s.tile_forall(fused[root], sizes)
            for role in producers:
                fused[role], loop = s.fuse_into(fused[role], loop)
            s.mark_serial(loop)

    def vector_sizes(self, k, t, role):
        plan = self.plan(k, t)
        # An odd tile's last row (REST) is one-row blocks of the same pixels and panels.
        block_rows = 1 if role.endswith(REST) else plan.block_rows
        role = role.removesuffix(REST)

        def block(rows, pixels):
            return [1, rows, pixels] if self.rank == 2 else [1, pixels]
        kernel_width = k.operand_shapes["dw_main"][1][-2] if "dw_main" in k.operand_shapes else 1
        if role == "main":
            return block(block_rows, plan.pixels) + [plan.panels, PANEL, 1]
        if role in ("init", "epilogue"):
            return block(block_rows, plan.pixels) + [plan.panels, PANEL]
        if role == "dw_main":
            return [1, plan.dw_pixels, plan.channel_vector, kernel_width]
        if role in ("dw_init", "dw_epilogue"):
            return block(1, plan.dw_pixels) + [plan.channel_vector]
        return None
