"""The fused separable kernel: a depthwise conv and the 1x1 conv it feeds, in one loop nest.

Loop nest (2-D; the 1-D kernel is the same with the row loop stepping over blocks of W):

    forall tile of (rows x cols pixels x tile_panels):    <- threads split these tiles
      for rows, for channel vectors:  depthwise tile -> a small buffer (L1/L2), bias and
                                      activation applied in registers
      for blocks of `panels` panels:  <- one block of packed weights, reused by every row
        for rows (`block_rows` at a time):
          accumulators = bias         <- a register block of pixels x panels
          for channels:  accumulators += depthwise pixel (broadcast) x weight panel row
          store activation(accumulators)

The depthwise result lives only in the tile's buffer: it never goes to memory as a whole.

The cost model is a chain of named decisions, each a function below (`choose` runs them in
order; a decision a strategy file fixes is taken as given and the later ones follow it):
`register_block` (pixels, panels), `tile_columns` (cols), `tile_rows` and
`split_for_threads` (rows, tile_panels), `two_row_blocks` (block_rows),
`depthwise_pixels` (dw_pixels), `depthwise_band` (dw_band) and `prefetch`.
"""
from __future__ import annotations

from ..targets import Target
from .kernel import Kernel
from .kinds import PREFETCH, Chosen, Fixed, Schedule, divides, large_weights, pick
from .script import Script, Sizes
from .pieces import Dim, Root, cascade, index_of, part, piece_sizes
from .strategy import Decision, Strategy, require

REST = "_rest"     # tag suffix of the parts of an odd last row


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


# --- what the decisions read off the kernel ------------------------------------------------

def spatial(k: Kernel) -> list[int]:
    """The output's spatial sizes: (H, W) or (L,)."""
    return k.operand_shapes["main"][0][1:-1]


def row_count(k: Kernel, pixels: int) -> int:
    """Rows a tile may take: of the image (2-D), or of register blocks along the sequence."""
    sizes = spatial(k)
    return sizes[0] if len(sizes) == 2 else sizes[-1] // pixels


def panel_width(k: Kernel) -> int:
    return k.operand_shapes["main"][1][2]


def vectors_per_panel(k: Kernel, t: Target) -> int:
    return max(panel_width(k) // t.lanes, 1)


def window(k: Kernel) -> int:
    """The depthwise kernel's width."""
    return k.operand_shapes["dw_main"][1][-2]


def stride_area(k: Kernel) -> int:
    """Input pixels per output pixel of the depthwise conv (its strides' product)."""
    x, _, out = k.operand_shapes["dw_main"]
    return max(1, round((x[1] * (x[2] if len(x) == 4 else 1))
                        / (out[1] * (out[2] if len(out) == 4 else 1))))


def width_stride(k: Kernel) -> int:
    x, _, out = k.operand_shapes["dw_main"]
    return max(1, round(x[-2] / out[-2]))


def depthwise_input_bytes(k: Kernel, t: Target, rows: int, cols: int) -> int:
    """Bytes of one channel vector of the depthwise input of rows x cols outputs (2-D); a
    1-D tile's counts as unbounded (its channel vectors stay inside)."""
    x, kernel, out = k.operand_shapes["dw_main"]
    if len(x) != 4:
        return t.memory.tile_budget
    extent = [(size - 1) * max(1, round(x[d] / out[d])) + kernel[d - 1]
              for d, size in ((1, rows), (2, cols))]
    return extent[0] * extent[1] * t.lanes * 4


def accumulator_registers(k: Kernel, t: Target, pixels: int, panels: int,
                          block_rows: int = 1) -> int:
    """Registers one channel step of the pointwise register block holds: its accumulators,
    the panels' weight vectors and one broadcast pixel (more and the block spills)."""
    vectors = panels * vectors_per_panel(k, t)
    return block_rows * pixels * vectors + vectors + 1


# --- the decisions ----------------------------------------------------------------------

def register_block(k: Kernel, t: Target, fixed: Fixed) -> tuple[int, int]:
    """(pixels, panels): `pixels x panels` accumulators of 16 lanes, as many as the register
    file holds next to the operands of one channel step, with the pixel count dividing the
    width (the vectorizer cannot mask the width) and the depthwise input row of two blocks
    in registers too. Among blocks with the most accumulators, the one with the fewest
    loads per FMA: loads per channel step are pixels + panel vectors, FMAs are pixels x
    panel vectors. Only blocks that leave `planned_threads` tiles, where there are such.
    A block of one pixel comes last: each weight vector it loads feeds one FMA, so the
    tile's weights stream from cache once per pixel."""
    sizes = spatial(k)
    width, panels = sizes[-1], k.operand_shapes["main"][1][0]
    per_panel = vectors_per_panel(k, t)

    def cost(block: tuple[int, int]) -> tuple[bool, int, int]:
        p, q = block
        return (p == 1 < width, -p * q * per_panel, p + q * per_panel)

    def fits(p: int, q: int) -> bool:
        return (accumulator_registers(k, t, p, q) <= t.registers
                and 2 * p + window(k) - 1 <= t.registers
                and p == fixed.get("pixels", p) and q == fixed.get("panels", q))

    height = sizes[0] if len(sizes) == 2 else 1

    def best(pixel_counts: list[int]) -> tuple[int, int] | None:
        blocks = [(p, q) for p in pixel_counts for q in divisors(panels) if fits(p, q)]
        shareable = [(p, q) for p, q in blocks
                     if height * max(width // p, 1) * (panels // q) >= t.planned_threads]
        return min(shareable or blocks, key=cost) if blocks else None

    dividing = best(divisors(width))
    if ragged_rows_fit(k, t):
        ragged = best(list(range(1, width + 1)))
        if ragged is not None and ragged_block_pays(k, t, width, dividing, ragged):
            return ragged
    if dividing is None:    # a fixed size that fits nothing: check() says why
        return int(fixed.get("pixels", 1)), int(fixed.get("panels", 1))
    return dividing


def ragged_block_pays(k: Kernel, t: Target, width: int, dividing: tuple[int, int] | None,
                      ragged: tuple[int, int]) -> bool:
    """Whether a block that leaves a last, narrower piece of each row (pieces.py) beats the
    best block dividing the width: when the dividing one is tiny (its depthwise block,
    which divides it, too: 74 columns divide into blocks of 2) and the ragged one holds
    half as many accumulators again, averaged over the row with its last piece; or holds
    twice as many. (A dividing block of the whole row may take two rows: two_row_blocks.)
    On AVX2, 6-pixel blocks of 56 columns with a last piece of 2 ran 9% slower than 2 x 2
    blocks (avg 5.9 against 4 accumulator columns); 7-wide ones, 2x faster (5.3 against 2)."""
    p, q = ragged
    rest = width % p
    average = ((width - rest) * p * q + rest * rest * q) / width
    if dividing is None:
        return True
    held = dividing[0] * dividing[1] * (2 if dividing[0] == width else 1)
    return (dividing[0] < 4 and 2 * average > 3 * held) or average >= 2 * held


def ragged_rows_fit(k: Kernel, t: Target) -> bool:
    """Whether a 2-D tile of two whole rows fits the tile budget: a register block that
    does not divide the width then works along whole rows, its last piece narrower."""
    sizes = spatial(k)
    return len(sizes) == 2 and 2 * row_bytes(k, sizes[-1]) <= t.memory.tile_budget


def tile_columns(k: Kernel, t: Target, pixels: int) -> int:
    """2-D tiles are bands of whole rows where two rows fit the tile budget: their input is
    then one contiguous stretch of memory, which the prefetchers stream, rather than a
    short piece of every row. Else, and in 1-D, one register block wide."""
    sizes = spatial(k)
    if len(sizes) != 2:
        return pixels
    if sizes[-1] % pixels:     # a ragged block (register_block): whole rows
        return sizes[-1]
    channels = k.operand_shapes["main"][0][-1]
    return max((c for c in divisors(sizes[-1]) if c % pixels == 0
                and (c == pixels or 2 * c * channels * 4 <= t.memory.tile_budget)),
               default=pixels)     # a fixed pixel count not dividing the width: check() says so


def row_bytes(k: Kernel, cols: int) -> int:
    return cols * k.operand_shapes["main"][0][-1] * 4


def row_options(k: Kernel, t: Target, pixels: int, cols: int) -> list[int]:
    """Row counts whose depthwise buffer fits the tile budget (one row always does)."""
    return [d for d in divisors(row_count(k, pixels))
            if d * row_bytes(k, cols) <= t.memory.tile_budget or d == 1]


def tile_rows(k: Kernel, t: Target, pixels: int, cols: int) -> int:
    """As many rows as keep the depthwise buffer within the tile budget (it and the panel
    block stay in L2 while the rows reuse them): each tile reads all its weights once from
    beyond L2, so fewer, taller tiles read less; among those, a count that gives every
    planned thread as many tiles, if any does."""
    options = row_options(k, t, pixels, cols)
    other_tiles = spatial(k)[-1] // cols if len(spatial(k)) == 2 else 1
    count = row_count(k, pixels)
    even = [d for d in options if (count // d) * other_tiles % t.planned_threads == 0]
    return max(even or options)


def split_for_threads(k: Kernel, t: Target, pixels: int, block_panels: int, cols: int,
                      rows: int, fixed: Fixed) -> tuple[int, int]:
    """(rows, tile_panels): with fewer tiles than planned threads, split the filters (each
    tile then re-reads its input and recomputes its depthwise rows) or the rows (each tile
    then reads all the weights), whichever reads less: the filters when the weights
    outweigh twice the tile's input, as in the 7x7x1024 layers. (A single tile would also
    leave nothing to fuse into.)"""
    panels = k.operand_shapes["main"][1][0]
    tile_panels = int(fixed.get("tile_panels", panels))
    options = row_options(k, t, pixels, cols)
    other_tiles = spatial(k)[-1] // cols if len(spatial(k)) == 2 else 1
    count = row_count(k, pixels)
    weight_bytes = k.operand_shapes["main"][0][-1] * panels * panel_width(k) * 4

    def tiles() -> int:
        return (count // rows) * other_tiles * (panels // tile_panels)

    while tiles() < t.planned_threads:
        can_split_panels = tile_panels % (2 * block_panels) == 0 and "tile_panels" not in fixed
        can_split_rows = rows > 1 and "rows" not in fixed
        input_bytes = rows * row_bytes(k, cols) * stride_area(k)
        if can_split_panels and (not can_split_rows or weight_bytes > 2 * input_bytes):
            tile_panels //= 2
        elif can_split_rows:
            rows = max(d for d in options if d < rows)
        else:
            break
    return rows, tile_panels


def two_row_blocks(k: Kernel, t: Target, pixels: int, panels: int, rows: int, cols: int) -> int:
    """A narrow image (7 wide) leaves the one-row block half the registers: two rows then
    double the FMAs per weight load (an odd tile's last row is peeled off)."""
    fits = accumulator_registers(k, t, pixels, panels, block_rows=2) <= t.registers
    return 2 if len(spatial(k)) == 2 and rows > 1 and cols == pixels and fits else 1


def depthwise_pixels(k: Kernel, t: Target, pixels: int) -> int:
    """The depthwise register block: the most pixels, dividing the pointwise block, whose
    accumulators and input vectors (stride x (pixels - 1) + window) fit in registers. The
    vectorized 1-D conv loads the whole input row before its FMAs, so a block past that
    spills (a 14-pixel stride-2 row did: 29 inputs + 14 accumulators); a filter tap can
    be reloaded from L1 instead, so taps are not counted."""
    stride = width_stride(k)
    fits = [d for d in divisors(pixels) if d + stride * (d - 1) + window(k) <= t.registers]
    return max(fits or [1])


def depthwise_band(k: Kernel, t: Target, rows: int, cols: int, dw_pixels: int) -> int:
    """Rows outside channel vectors stream each input row from L2 once per output row that
    reads it (three times for 3x3). Channel vectors outside rows read each input line once
    and reuse it from L1 where one channel vector of the input fits in half of it: of the
    whole tile (the 14x14 and 7x7 layers), else of a band of columns (the widest multiple
    of the depthwise block that fits: 14 of the 56 and 28 columns), the bands then
    outermost. 0: no band fits, rows stay outside. Channels that vectors do not divide
    are cut into pieces (tile_depthwise): rows then stay outside too, since every band
    would repeat the cut (C = 24, 120, 184: 1.2-1.4x faster without bands)."""
    channels = k.operand_shapes["main"][0][-1]
    if channels > t.lanes and channels % t.lanes and not t.scalable:
        return 0
    bands = [b for b in divisors(cols) if b % dw_pixels == 0
             and depthwise_input_bytes(k, t, rows, b) <= t.memory.l1d // 2]
    return max(bands, default=0)


def prefetch(k: Kernel, t: Target, panels: int, tile_panels: int) -> bool:
    """Packed weights of the target's prefetch_min_bytes or more come from DRAM or L3 in a
    network: the first row of each block would wait on them, so the next block is
    prefetched during the current one. Smaller ones arrive in a few microseconds. A tile
    of one block has no next block: its prefetches would only cost (a 5x5 output of
    816 -> 224 channels ran 2.3x faster without)."""
    _, weights, _ = k.operand_shapes["main"]
    return large_weights(weights[0] * weights[1] * weights[2], t) and panels < tile_panels


DECISIONS = (
    Decision("pixels", "register block: pixels along the width (divides it)"),
    Decision("panels", "register block: panels of filters (divides tile_panels)"),
    Decision("rows", "rows (2-D) or register blocks (1-D) per tile"),
    Decision("tile_panels", "panels of filters per tile (divides the filters' panels)"),
    Decision("cols", "2-D: pixels per tile along the width, a multiple of pixels"),
    Decision("block_rows", "2-D: rows of the pointwise register block (1 or 2)"),
    Decision("dw_pixels", "depthwise register block along the width, a divisor of pixels"),
    Decision("dw_band", "2-D: columns per depthwise band, channel vectors outside its rows "
                        "(0: no bands, rows outside channel vectors)"),
    PREFETCH,
)


def choose(k: Kernel, t: Target, fixed: Fixed) -> Chosen:
    pixels, panels = register_block(k, t, fixed)
    cols = pick(fixed, "cols", lambda: tile_columns(k, t, pixels))
    rows = pick(fixed, "rows", lambda: tile_rows(k, t, pixels, cols))
    rows, tile_panels = split_for_threads(k, t, pixels, panels, cols, rows, fixed)
    block_rows = pick(fixed, "block_rows", lambda: two_row_blocks(k, t, pixels, panels, rows, cols))
    dw_pixels = pick(fixed, "dw_pixels", lambda: depthwise_pixels(k, t, pixels))
    return {"pixels": pixels, "panels": panels, "rows": rows, "tile_panels": tile_panels,
            "cols": cols, "block_rows": block_rows, "dw_pixels": dw_pixels,
            "dw_band": pick(fixed, "dw_band", lambda: depthwise_band(k, t, rows, cols, dw_pixels)),
            "prefetch": pick(fixed, "prefetch", lambda: prefetch(k, t, panels, tile_panels))}


def check(k: Kernel, t: Target, s: Chosen) -> None:
    sizes = spatial(k)
    width, panels = sizes[-1], k.operand_shapes["main"][1][0]
    require(1 <= s["pixels"] <= min(s["cols"], width), "pixels", s["pixels"],
            f"1 to the tile's columns ({min(s['cols'], width)})")
    if not (len(sizes) == 2 and s["cols"] == width and s["block_rows"] == 1):
        divides(width, "pixels", s["pixels"], "output width (or cols the whole width)")
    divides(panels, "tile_panels", s["tile_panels"], f"filters' panels of {panel_width(k)}")
    divides(s["tile_panels"], "panels", s["panels"], "tile's panels (tile_panels)")
    require(s["block_rows"] in (1, 2), "block_rows", s["block_rows"], "1 or 2")
    used = accumulator_registers(k, t, s["pixels"], s["panels"], s["block_rows"])
    require(used <= t.registers, "pixels", s["pixels"],
            f"a register block that fits {t.registers} registers (block_rows x pixels x "
            f"panels takes {used} with its operands)")
    if len(sizes) == 2:
        require((s["cols"] % s["pixels"] == 0 or s["cols"] == width) and width % s["cols"] == 0,
                "cols", s["cols"],
                f"a multiple of pixels ({s['pixels']}) dividing the width ({width}), or the width")
    else:
        require(s["cols"] == s["pixels"], "cols", s["cols"], f"pixels ({s['pixels']}) in 1-D")
    divides(row_count(k, s["pixels"]), "rows", s["rows"], "rows (or blocks) of the layer")
    if s["block_rows"] == 2:
        require(len(sizes) == 2 and s["rows"] > 1 and s["cols"] == s["pixels"], "block_rows",
                2, "1 unless the layer is 2-D, a tile has several rows and is one block wide")
    divides(s["pixels"], "dw_pixels", s["dw_pixels"], "pointwise block (pixels)")
    require(s["dw_band"] == 0 or (len(sizes) == 2 and s["dw_band"] % s["dw_pixels"] == 0
                                  and s["cols"] % s["dw_band"] == 0), "dw_band", s["dw_band"],
            "0, or (2-D) a multiple of dw_pixels dividing cols")


class Separable(Schedule):
    """Sizes for the root forall; the nested loops are built by `tile_fused`."""
    decisions = DECISIONS

    def __init__(self, rank: int) -> None:
        self.rank = rank          # spatial dims: 2 or 1

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        return choose(k, t, fixed)

    def facts(self, k: Kernel, t: Target, chosen: Chosen) -> Chosen:
        channels = k.operand_shapes["main"][0][-1]
        ragged = ({"dw_channels": channels}
                  if channels > t.lanes and channels % t.lanes and not t.scalable else {})
        return {"window": window(k), "panel": panel_width(k)} | ragged

    def check(self, k: Kernel, t: Target, s: Chosen) -> None:
        check(k, t, s)

    def prefetches(self, s: Strategy) -> bool:
        return bool(s["prefetch"])

    def spatial_tile(self, s: Strategy) -> list[int]:
        return [s["rows"], s["cols"]] if self.rank == 2 else [s["rows"] * s["pixels"]]

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        sizes = [1] + self.spatial_tile(s) + [s["tile_panels"], 0]
        return sizes + ([0] if s.root_role == "main" else [])

    def row_steps(self, s: Strategy, pixels: int, width: int = 0) -> list[list[int]]:
        """Loops down to one register block of `pixels`: rows, then blocks along the
        `width` columns (the tile's by default) (2-D); register blocks (1-D)."""
        if self.rank == 1:
            return [[0, pixels]]
        return [[0, 1, 0]] + ([[0, 0, pixels]] if (width or s["cols"]) > pixels else [])

    def tile_fused(self, script: Script, s: Strategy, t: Target,
                   fused: dict[str, str]) -> bool:
        # The 1x1 conv: panel blocks, then rows; init and main fuse into both levels (the
        # rows of two-row blocks are tiled after the depthwise tile: tile_row_blocks).
        reduction = [0] if s.root_role == "main" else []
        producers = [r for r in ("main", "init") if r != s.root_role]
        panel_level = [[0] * (self.rank + 1) + [s["panels"], 0] + reduction]
        if s["block_rows"] == 1:
            steps = self.row_steps(s, s["pixels"])
            if self.pw_pieces(s):    # the blocks along the row are cut after the dw tile
                steps = steps[:1]
            levels = [step + [0, 0] for step in steps]
            self.nest(script, fused, s.root_role, producers,
                      panel_level + [sizes + reduction for sizes in levels])
            if not self.pw_pieces(s):
                main, loops = script.tile(fused["main"], [0] * (self.rank + 3) + [1])
                self.mark_reduction(script, s, loops)
                script.annotate(main, s.part("main"))
        else:
            self.nest(script, fused, s.root_role, producers, panel_level)
        self.tile_depthwise(script, s, t, fused)
        if s["block_rows"] > 1:
            self.tile_row_blocks(script, s, fused)
        elif self.pw_pieces(s):
            self.tile_pw_pieces(script, s, fused[s.root_role])
        return True

    def tile_depthwise(self, script: Script, s: Strategy, t: Target,
                       fused: dict[str, str]) -> None:
        """The depthwise tile: rows (or register blocks) and channel vectors, bands of
        columns outside them where the strategy says so. Channels that vectors do not
        divide (184 = 11 x 16 + 8) are cut into pieces of full vectors and a narrower rest;
        each channel piece then gets the levels below the channel loop of its own."""
        dw_root, root = self.depthwise_root(s, fused)
        window_dims = [0] * self.rank if dw_root == "dw_main" else []
        channels = [[0] * (self.rank + 1) + [t.lanes]]
        steps = self.row_steps(s, s["dw_pixels"], s["dw_band"])
        if self.dw_pixel_pieces(s):        # the blocks along the row are cut later
            steps = steps[:1]
        rows = [step + [0] for step in steps]
        bands = [[0, 0, s["dw_band"], 0]] if 0 < s["dw_band"] < s["cols"] else []
        outer, inner = (bands, rows) if s["dw_band"] else (rows, [])
        producers = [r for r in ("dw_main", "dw_init") if r != dw_root]
        self.nest(script, fused, dw_root, producers, [sz + window_dims for sz in outer])
        lane_cut = self.dw_channel_pieces(s, t)
        if not lane_cut:
            self.nest(script, fused, dw_root, producers,
                      [sz + window_dims for sz in channels + inner])
            self.finish_depthwise(script, s, t, self.dw_handles(fused), "", 0)
            return
        per_channel_piece = len(piece_sizes(self.dw_pixel_pieces(s))) or 1
        for index, (container, _) in enumerate(
                cascade(script, root, fused[dw_root], "", lane_cut)):
            local = ({role: script.match_part_in(s.part(role), container)
                      for role in self.dw_handles(fused)}
                     if container else self.dw_handles(fused))    # one step: no loop
            self.nest(script, local, dw_root, producers, [sz + window_dims for sz in inner])
            self.finish_depthwise(script, s, t, local, container, index * per_channel_piece)

    def depthwise_root(self, s: Strategy, roles: dict[str, str]) -> tuple[str, Root]:
        """The depthwise chain's last op, which its tiles are cut along: the epilogue if it
        has one, with its loops (batch, spatial, channels, and a conv's window)."""
        role = "dw_epilogue" if "dw_epilogue" in roles else "dw_main"
        loops = (self.rank if role == "dw_main" else 0) + self.rank + 2
        return role, Root(s.part(role), loops)

    def finish_depthwise(self, script: Script, s: Strategy, t: Target,
                         handles: dict[str, str], container: str, first_index: int) -> None:
        """Below the channel loop: the ragged pixel blocks cut into pieces, each depthwise
        conv decomposed into 1-D convs (2-D) and tagged, pieces numbered from first_index."""
        dw_root, root = self.depthwise_root(s, handles)
        pixel_dims = self.dw_pixel_pieces(s)
        cut = bool(self.dw_pieces(s, t))
        if pixel_dims:
            found = cascade(script, root, handles[dw_root], container, pixel_dims)
            pieces = [{r: script.match_part_in(s.part(r), piece) for r in handles}
                      for piece, _ in found]
        else:
            pieces = [handles]
        for offset, piece in enumerate(pieces):
            dw_main = piece["dw_main"]
            if self.rank == 2:
                dw_main, _ = script.tile(dw_main, [0, 0, 0, 0, 1, 0])
                dw_main = script.decompose(dw_main)
            index = first_index + offset
            script.annotate(dw_main, s.part(part("dw_main", index) if cut else "dw_main"))
            if cut:
                for role in (r for r in ("dw_init", "dw_epilogue") if r in piece):
                    script.annotate(piece[role], s.part(part(role, index)))

    # --- rows whose register blocks do not divide them (pieces.py) ---------------------

    def pw_pieces(self, s: Strategy) -> list[Dim]:
        """The pointwise blocks' ragged dimension: the tile's columns, when the pixels of
        a block do not divide them."""
        if self.rank != 2 or s["block_rows"] != 1 or s["cols"] % s["pixels"] == 0:
            return []
        return [Dim(2, s["pixels"], s["cols"], False)]

    def dw_pixel_pieces(self, s: Strategy) -> list[Dim]:
        """The depthwise blocks' ragged pixels: the columns of a band (or the tile)."""
        width = s["dw_band"] or s["cols"]
        if self.rank != 2 or width % s["dw_pixels"] == 0:
            return []
        return [Dim(2, s["dw_pixels"], width, False)]

    def dw_channel_pieces(self, s: Strategy, t: Target) -> list[Dim]:
        """The depthwise channels, when vectors do not divide them (a fact: dw_channels)."""
        if "dw_channels" not in s.values:
            return []
        return [Dim(self.rank + 1, t.lanes, int(s["dw_channels"]), True)]

    def dw_pieces(self, s: Strategy, t: Target) -> list[Dim]:
        """Every ragged dimension of the depthwise tile, in the order its pieces number."""
        return self.dw_channel_pieces(s, t) + self.dw_pixel_pieces(s)

    @staticmethod
    def dw_handles(fused: dict[str, str]) -> dict[str, str]:
        return {r: h for r, h in fused.items() if r in ("dw_main", "dw_init", "dw_epilogue")}

    def tile_pw_pieces(self, script: Script, s: Strategy, root: str) -> None:
        loops = self.rank + 3 + (1 if s.root_role == "main" else 0)
        for index, (container, _) in enumerate(
                cascade(script, Root(s.part(s.root_role), loops), root, "", self.pw_pieces(s))):
            others = [(r, script.match_part_in(s.part(r), container))
                      for r in ("init", "epilogue") if r in s.roles]
            main, loops_ = script.tile(script.match_part_in(s.part("main"), container),
                                       [0] * (self.rank + 3) + [1])
            self.mark_reduction(script, s, loops_)
            script.annotate(main, s.part(part("main", index)))
            for role, handle in others:
                script.annotate(handle, s.part(part(role, index)))

    def mark_reduction(self, script: Script, s: Strategy, loops: list[str]) -> None:
        if self.prefetches(s):
            script.mark_prefetch(loops[-1])

    def tile_row_blocks(self, script: Script, s: Strategy, fused: dict[str, str]) -> None:
        """Register blocks of `block_rows` rows, with the bias and the activation fused into
        each block as in one-row blocks (in registers, one store per output): a loop over
        the blocks into which the chain fuses (the depthwise tile it reads is already a
        loop of its own, which stays whole). An odd last row is peeled off that loop; its
        parts, tagged `REST`, are one-row blocks vectorized at their size."""
        reduction = [0] if s.root_role == "main" else []
        _, loop = script.fuse(fused[s.root_role], [0, s["block_rows"], 0, 0, 0] + reduction)
        parts = [(loop, "")]
        if s["rows"] % s["block_rows"]:
            full, rest = script.peel(loop)
            parts = [(full, ""), (rest, REST)]
        for loop, suffix in parts:
            for role in (r for r in ("init", "main", "epilogue") if r in fused):
                op = script.match_part_in(s.part(role), loop)
                if role == "main":
                    op, loops = script.tile(op, [0] * (self.rank + 3) + [1])
                    self.mark_reduction(script, s, loops)
                script.annotate(op, s.part(role + suffix))

    def extra_roles(self, s: Strategy, t: Target) -> list[str]:
        roles = []
        if s["block_rows"] > 1 and s["rows"] % s["block_rows"]:
            roles += [r + REST for r in ("main", "init", "epilogue") if r in s.roles]
        for names, dims in ((("main", "init", "epilogue"), self.pw_pieces(s)),
                            (("dw_main", "dw_init", "dw_epilogue"), self.dw_pieces(s, t))):
            for index in range(len(piece_sizes(dims)) if dims else 0):
                roles += [part(r, index) for r in names if r in s.roles]
        return roles

    @staticmethod
    def nest(script: Script, fused: dict[str, str], root: str, producers: list[str],
             levels: list[list[int]]) -> None:
        """Serial loops, one per level of tile sizes, with the producers fused into each."""
        for sizes in levels:
            fused[root], loop = script.tile_forall(fused[root], sizes)
            for role in producers:
                fused[role], loop = script.fuse_into(fused[role], loop)
            script.mark_serial(loop)

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        # An odd tile's last row (REST) is one-row blocks of the same pixels and panels.
        block_rows = 1 if role.endswith(REST) else s["block_rows"]
        role, index = index_of(role.removesuffix(REST))
        pw_pieces, dw_pieces = self.pw_pieces(s), self.dw_pieces(s, t)
        if (index is None) != (not (dw_pieces if role.startswith("dw_") else pw_pieces)):
            return None           # cut into pieces: each piece has its own role
        pixels, dw_pixels, lanes = s["pixels"], s["dw_pixels"], t.lanes
        if index is not None:
            dims = dw_pieces if role.startswith("dw_") else pw_pieces
            sizes = piece_sizes(dims)[index]
            pixels = dw_pixels = sizes.get(2, dw_pixels) if self.rank == 2 else dw_pixels
            lanes = sizes.get(self.rank + 1, lanes)

        def block(rows: int, pixels: int) -> list[int]:
            return [1, rows, pixels] if self.rank == 2 else [1, pixels]
        if role == "main":
            return block(block_rows, pixels) + [s["panels"], s["panel"], 1]
        if role in ("init", "epilogue"):
            return block(block_rows, pixels) + [s["panels"], s["panel"]]
        if role == "dw_main":
            return [1, dw_pixels, lanes, s["window"]]
        if role in ("dw_init", "dw_epilogue"):
            return block(1, dw_pixels) + [lanes]
        return None
