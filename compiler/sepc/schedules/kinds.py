"""Per-kernel-kind schedules. Each kind chooses, for one layer's chain, its decisions (the
cost model, from the kernel's shapes and the target row) and, from those decisions alone,
generates its part of the transform scripts:

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
from typing import Any, Callable, Mapping

from ..targets import Target
from .kernel import Kernel
from .pieces import Dim, Root, cascade, index_of, part, piece_sizes, smallest_divisor_at_least
from .script import Scalable, Script, Sizes
from .strategy import Decision, Strategy, require
from .tiles import divisor_tile

# The forall tiles of a cut root, its ragged dimensions and its loop count (pieces.py).
Cut = tuple[list[int], list[Dim], int]

# Decisions and facts by name. Each name has its Decision's type (int or bool), so they are
# read untyped, as a Strategy's entries are.
Chosen = dict[str, Any]
Fixed = Mapping[str, Any]


def channel_vector(t: Target, vectors: int = 1) -> int | Scalable:
    """Channels per vector step: fixed lanes, or scalable lanes on a scalable target."""
    return Scalable(vectors * t.lanes) if t.scalable else vectors * t.lanes


def forall_channel(t: Target, vectors: int = 1) -> int:
    return 0 if t.scalable else vectors * t.lanes


def inner_channel(t: Target, vectors: int = 1) -> int | Scalable:
    return Scalable(vectors * t.lanes) if t.scalable else 0


def pick(fixed: Fixed, name: str, default: Callable[[], Any]) -> Any:
    """A strategy file's value for the decision `name`, else the cost model's."""
    return fixed[name] if name in fixed else default()


def divides(extent: int, field: str, value: int, what: str) -> None:
    require(value >= 1 and extent % value == 0, field, value,
            f"a divisor of the {what} ({extent})")


def power_of_two(value: int) -> bool:
    return value >= 1 and value & (value - 1) == 0


def lanes_of(field: str, value: int) -> None:
    """Vector lanes must be a power of two: LLVM legalizes other widths (48, 24, 23 floats)
    into shuffles, a 5x48 matmul block 23x slower than 5x32."""
    require(power_of_two(value), field, value, "a power of two (vector lanes)")


def pixel_block(extent: int, limit: int, t: Target) -> int:
    """Output pixels per register block: a divisor of the extent near `limit` (no ragged
    piece), else `limit`, the remainder a piece of its own (pieces.py). Scalable targets
    keep a divisor: their vectorizer cannot mask the width and they are not cut."""
    block = divisor_tile(extent, limit)
    if t.scalable or 2 * block >= limit or block == extent:
        return block
    return min(limit, extent)


def lane_block(extent: int, limit: int, t: Target) -> int:
    """Lanes per vector along a dimension of lanes: a divisor of the extent up to `limit`
    when it is a power of two, else `limit` (pow2), the ragged rest cut into pieces.
    Scalable targets keep the divisor (they are not cut)."""
    block = divisor_tile(extent, limit)
    return block if t.scalable or power_of_two(block) else limit


def window_cut(out_width: int, width: int, channels: int, block: int, rank: int,
               root_loops: int, t: Target) -> Cut | None:
    """Cut a sliding-window root (N, [OH,] OW, C) whose width or lanes are ragged."""
    if t.scalable or (out_width % width == 0 and channels % block == 0):
        return None
    pixel, lane = rank, rank + 1
    ragged_w, ragged_c = out_width % width != 0, channels % block != 0
    forall = [1] * rank + [out_width if ragged_w else width, channels if ragged_c else block]
    dims = ([Dim(pixel, width, out_width, False)] if ragged_w else []) \
        + ([Dim(lane, block, channels, True)] if ragged_c else [])
    return forall, dims, root_loops


class Schedule(ABC):
    """tiled: whether the kind has a loop nest of its own (softmax heads stay scalar)."""
    decisions: tuple[Decision, ...] = ()
    tiled = True

    # --- choosing (before tiling, from the kernel's shapes) --------------------------------

    @abstractmethod
    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        """Every decision: a strategy file's where it fixes one, else the cost model's
        (decisions that follow from others follow the fixed ones)."""

    def facts(self, k: Kernel, t: Target, chosen: Chosen) -> Chosen:
        """What the scripts need of the kernel's shapes besides the decisions."""
        return {}

    def cut(self, k: Kernel, t: Target, chosen: Chosen) -> Cut | None:
        """Where a register block does not divide its dimension: the root's forall tiles,
        its ragged dimensions and its loop count (pieces.py); None tiles it whole."""
        return None

    def piece_vector_sizes(self, s: Strategy, t: Target, role: str,
                           sizes: dict[int, int]) -> Sizes | None:
        """Vector sizes of `role` in one piece, `sizes` its extent per ragged loop."""
        return None

    # Not abstract: a kind without decisions (ScalarLoops) has nothing to check.
    def check(self, k: Kernel, t: Target, s: Chosen) -> None:  # noqa: B027
        """Raise StrategyError for a decision that cannot be honoured."""

    # --- scripts (from the strategy and the target only) ----------------------------------

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        """Forall tile sizes of the chain's root (its last op); 0 leaves a dimension whole."""
        return []

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        return None

    def peels(self, s: Strategy, t: Target) -> bool:
        """Whether the main op's scalable channel loop is peeled. Its full steps then need
        no masks, so their accumulators stay in registers across the reduction (masked
        transfers are not hoisted); only the last step is masked. Only for kinds whose
        other tile sizes divide their dimensions: the full steps are vectorized assuming
        every dynamic size equals its vector size."""
        return False

    def decomposes(self) -> bool:
        """Whether the main op is a 2-D window op to decompose into 1-D after tiling."""
        return False

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        """Vector sizes for the op in `role`, or None to leave it unvectorized."""
        return None

    def named_contraction(self, role: str) -> bool:
        """Vectorize `role` to vector.contract rather than mul/add with broadcast reads."""
        return False

    def extra_roles(self, s: Strategy, t: Target) -> list[str]:
        """Tags that `tile_fused` adds, each vectorized with `vector_sizes(role)`."""
        return []

    def prefetches(self, s: Strategy) -> bool:
        """Whether the reduction loop of the main op is marked for prefetch-next-panels."""
        return False

    def tile_fused(self, script: Script, s: Strategy, t: Target,
                   fused: dict[str, str]) -> bool:
        """Build the loops inside the root forall for a kind whose nest is not the plain
        per-part tiling of `tiling_script`; `fused` maps roles to their fused ops.
        Returns whether it did."""
        return False


WIDTH = Decision("width", "output pixels along the width per register block (divides it)")


class Depthwise2D(Schedule):
    """Rows of `width` output pixels x one channel vector; KH is a loop and the 1-D conv that
    remains after decomposition keeps its `width` accumulators in registers across KW."""
    decisions: tuple[Decision, ...] = (WIDTH,)
    out_width, window_axis = (2, 2), (1, 1)   # (operand, dim) of the output width, of KW

    def extent(self, k: Kernel) -> int:
        operand, dim = self.out_width
        return k.main_operand_shapes[operand][dim]

    rank = 2                 # spatial dimensions
    main_loops = 6           # N, OH, OW, C, KH, KW

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        return {"width": pick(fixed, "width",
                              lambda: pixel_block(self.extent(k), t.tiling.depthwise_width, t))}

    def facts(self, k: Kernel, t: Target, chosen: Chosen) -> Chosen:
        operand, dim = self.window_axis
        return {"window": k.main_operand_shapes[operand][dim]}

    def check(self, k: Kernel, t: Target, s: Chosen) -> None:
        if t.scalable:   # not cut: the vectorizer cannot mask the width
            divides(self.extent(k), "width", s["width"], "output width")
        require(1 <= s["width"] <= min(t.registers, self.extent(k)), "width", s["width"],
                f"1 to {min(t.registers, self.extent(k))} (one accumulator register per "
                "pixel, at most the output width)")

    def lane_block(self, k: Kernel, t: Target, chosen: Chosen) -> int:
        """Channels per vector."""
        return t.lanes

    def root_loops(self, k: Kernel) -> int:
        return self.main_loops if k.root_role == "main" else self.rank + 2

    def cut(self, k: Kernel, t: Target, chosen: Chosen) -> Cut | None:
        return window_cut(self.extent(k), chosen["width"], k.root_shape[-1],
                          self.lane_block(k, t, chosen), self.rank, self.root_loops(k), t)

    def piece_vector_sizes(self, s: Strategy, t: Target, role: str,
                           sizes: dict[int, int]) -> Sizes | None:
        pixels = sizes.get(self.rank, s["width"])
        lanes = sizes.get(self.rank + 1, self.block(s, t))
        if role == "main":
            return [1, pixels, lanes, s["window"]]
        return [1] * self.rank + [pixels, lanes]

    def block(self, s: Strategy, t: Target) -> int:
        """The lanes of a full vector along the lane dimension (fixed-width targets)."""
        return t.lanes

    def channels(self, s: Strategy, t: Target) -> int | Scalable:
        return channel_vector(t)

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return [1, 1, s["width"], forall_channel(t)]

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if role == "main":
            return [0, 0, 0, inner_channel(t), 1, 0]
        return [0, 0, 0, inner_channel(t)] if t.scalable else None

    def decomposes(self) -> bool:
        return True

    def peels(self, s: Strategy, t: Target) -> bool:
        return t.scalable

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if role == "main":
            return [1, s["width"], self.channels(s, t), s["window"]]
        return [1, 1, s["width"], self.channels(s, t)]


class Depthwise1D(Depthwise2D):
    out_width, window_axis = (2, 1), (1, 0)
    rank, main_loops = 1, 4  # N, OW, C, KW

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return [1, s["width"], forall_channel(t)]

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if not t.scalable:
            return None
        return [0, 0, inner_channel(t), 0] if role == "main" else [0, 0, inner_channel(t)]

    def decomposes(self) -> bool:
        return False

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if role == "main":
            return [1, s["width"], channel_vector(t), s["window"]]
        return [1, s["width"], channel_vector(t)]


# Below this many multiply-adds, a kernel's tiles are not split for threads.
PARALLEL_MACS = 1 << 16

def large_weights(floats: int, t: Target) -> bool:
    """Weights of the target's prefetch_min_bytes or more: in a network they come from DRAM
    or L3, worth prefetching; smaller ones arrive in a few microseconds."""
    return floats * 4 >= t.memory.prefetch_min_bytes


PREFETCH = Decision("prefetch", "mark the reduction loop for prefetch-next-panels (it prefetches "
                                "the next weight panels or rows where the loop streams them)", bool)


class Matmul(Schedule):
    """An MxN register block of accumulators; K steps one at a time so each step is a
    broadcast of A times a row of B (outer-product FMAs); the accumulators are hoisted
    out of the K loop into registers."""
    decisions = (Decision("rows", "rows of the register block (of M)"),
                 Decision("vectors", "vectors of columns per row of the register block"),
                 PREFETCH)

    @staticmethod
    def rows(k: Kernel, t: Target) -> int:
        """A row tile that divides M when one of at least half the target's rows exists
        (no ragged last tile), else the target's rows with the last tile masked. Never
        more than the target's rows: the accumulators must fit the register file. On
        fixed-width targets an M below the target's rows (a batch-1 dense layer: M = 1)
        is one tile of M rows. (SVE keeps its block: llc fails on contractions of more
        scalable vectors.)"""
        preferred = t.tiling.matmul_rows
        m = k.main_operand_shapes[0][0]
        if m < preferred and not t.scalable:
            return m
        dividing = max(d for d in range(1, min(m, preferred) + 1) if m % d == 0)
        return dividing if 2 * dividing >= preferred else preferred

    @staticmethod
    def vectors(t: Target, rows: int) -> int:
        """Vectors of columns per row: the target's register block, its rows traded for
        columns when M is short. A batch-1 dense layer then streams whole 1 KiB runs of
        each weight row (16 zmm) instead of 128 bytes every 4 KiB, which left it
        latency-bound on its weights."""
        if t.scalable:
            return t.tiling.matmul_vectors
        block = t.tiling.matmul_rows * t.tiling.matmul_vectors
        vectors = max(t.tiling.matmul_vectors, block // rows)
        return 1 << (vectors.bit_length() - 1)      # lanes in a power of two (lanes_of)

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        rows = pick(fixed, "rows", lambda: self.rows(k, t))
        return {"rows": rows, "vectors": pick(fixed, "vectors", lambda: self.vectors(t, rows)),
                "prefetch": pick(fixed, "prefetch", lambda: self.prefetch(k, t))}

    @staticmethod
    def prefetch(k: Kernel, t: Target) -> bool:
        """Large weights get their rows prefetched; for smaller ones the prefetches cost: a
        1x1 conv of 80 -> 480 channels on 5x5 ran 15% slower with them, 192 -> 1152 on 7x7
        3% faster."""
        depth, columns = k.main_operand_shapes[1]
        return large_weights(depth * columns, t)

    def facts(self, k: Kernel, t: Target, chosen: Chosen) -> Chosen:
        return {"peel": t.scalable and k.main_operand_shapes[0][0] % chosen["rows"] == 0}

    def check(self, k: Kernel, t: Target, s: Chosen) -> None:
        m = k.main_operand_shapes[0][0]
        limit = max(m, t.tiling.matmul_rows)
        require(1 <= s["rows"] <= limit, "rows", s["rows"],
                f"1 to {limit} (the layer has {m} rows)")
        block = t.tiling.matmul_rows * t.tiling.matmul_vectors
        # SVE: llc fails on contractions of more scalable vectors than the target's block.
        registers = block if t.scalable else t.registers
        require(s["vectors"] >= 1 and s["rows"] * s["vectors"] <= registers, "vectors",
                s["vectors"], f"at least 1, with rows x vectors = {s['rows']} x "
                              f"{s['vectors']} accumulators at most {registers}")
        lanes_of("vectors", s["vectors"])

    def cut(self, k: Kernel, t: Target, chosen: Chosen) -> Cut | None:
        """Ragged rows: the forall takes the smallest divisor of M holding a block, the
        blocks inside it; ragged columns: the forall takes all of N (or a divisor of N
        that leaves tiles for the planned threads when M has too few), the pieces of
        powers of two inside."""
        if t.scalable:
            return None
        (m, depth), (_, n) = k.main_operand_shapes[0], k.main_operand_shapes[1]
        rows, cols = chosen["rows"], chosen["vectors"] * t.lanes
        if m % rows == 0 and n % cols == 0:
            return None
        m_tile = rows if m % rows == 0 else smallest_divisor_at_least(m, rows)
        n_tile = cols
        if n % cols:
            # (a layer of a few thousand multiply-adds is done before a thread wakes up)
            few = m // m_tile < t.planned_threads and m * n * depth >= PARALLEL_MACS
            n_tile = max((d for d in range(1, n // t.planned_threads + 1) if n % d == 0),
                         default=n) if few else n
        dims = ([Dim(0, rows, m_tile, False)] if m_tile != rows else []) \
            + ([Dim(1, cols, n_tile, True)] if n_tile != cols else [])
        return [m_tile, n_tile], dims, 3 if k.root_role == "main" else 2

    def piece_vector_sizes(self, s: Strategy, t: Target, role: str,
                           sizes: dict[int, int]) -> Sizes | None:
        block = [sizes.get(0, s["rows"]), sizes.get(1, s["vectors"] * t.lanes)]
        return block + ([1] if role == "main" else [])

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return [s["rows"], forall_channel(t, s["vectors"])]

    def peels(self, s: Strategy, t: Target) -> bool:
        return bool(s["peel"])

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        n = inner_channel(t, s["vectors"])
        if role == "main":
            return [0, n, 1]
        return [0, n] if t.scalable else None

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        return [s["rows"], channel_vector(t, s["vectors"])] + ([1] if role == "main" else [])

    def named_contraction(self, role: str) -> bool:
        # Folding the unit-K contraction to mul/add reads A through a transposing
        # broadcast, which cannot be lowered for scalable vectors.
        return role == "main"

    def prefetches(self, s: Strategy) -> bool:
        return bool(s["prefetch"])


def block_heights(extent: int, block: int, tile: int) -> list[int]:
    """The register blocks a dimension of `extent` is computed in: forall tiles of `tile`,
    each in blocks of `block` and a last, smaller one (pieces.py)."""
    inside = [block] * (tile // block) + ([tile % block] if tile % block else [])
    return inside * (extent // tile)


def ragged_tile(extent: int, block: int) -> int:
    """The forall tile of a dimension its block may not divide (pieces.py)."""
    return block if extent % block == 0 else smallest_divisor_at_least(extent, block)


UNEVEN_BLOCK_COST = 1.25


def step_cycles(rows: int, vectors: int) -> float:
    """Cycles of one reduction step of a rows x vectors block of outer-product FMAs, as the
    most of: its FMAs on two FMA ports, its loads (a broadcast per row, a load per vector)
    on two load ports, and the FMA latency (4 cycles) each accumulator waits for."""
    return max(rows * vectors / 2, (rows + vectors) / 2, 4)


class PackedMatmul(Schedule):
    """A 1x1 conv or dense layer on weights packed in panels (pack-matmul-weights): loops
    (M, F/P, P, K), a register block of rows x panels of accumulators, K stepped one at a
    time (a broadcast of A times one line of each panel). The forall takes blocks (their
    ragged rest cut into pieces); within a tile the weights of one block of panels are
    read as whole contiguous lines."""
    decisions = (Decision("rows", "rows of the register block (of M)"),
                 Decision("panels", "panels of filters per row of the register block"),
                 Decision("panels_outer", "forall over blocks of panels, every row inside "
                                          "(each block of weights read once)", bool),
                 PREFETCH)

    @staticmethod
    def shape(k: Kernel) -> tuple[int, int, int]:
        """(M, panels, panel width)."""
        panels, _, width = k.main_operand_shapes[1]
        return k.main_operand_shapes[0][0], panels, width

    @staticmethod
    def registers(rows: int, vectors: int) -> int:
        """Registers of one step: accumulators, the panels' vectors and a broadcast (a
        7 x 4 block, 32 without the broadcast, ran 1.5x slower than 6 x 4 on 37x37 rows)."""
        return rows * vectors + vectors + 1

    def register_block(self, k: Kernel, t: Target, fixed: Fixed) -> tuple[int, int]:
        """(rows, panels): the block that does the layer in the fewest cycles by
        step_cycles, over all its blocks and their ragged rests, that fits the register
        file; among equals the fewest loads per FMA. Blocks whose panels do not divide
        the filters' or whose rows leave a rest of under half a block count
        UNEVEN_BLOCK_COST times their cycles: such rests cost more than the model counts
        (on 18x18 rows x 16 panels, 6 x 4 ran 1.5x as fast as 5 x 5 and 7 x 3; on 14x14,
        8 x 3 1.3x as fast as 6 x 4); blocks that leave fewer forall tiles than planned
        threads count as if one thread did all the work."""
        m, panels, width = self.shape(k)
        per_panel = max(width // t.lanes, 1)
        outer = bool(fixed.get("panels_outer", False))
        macs = m * k.main_operand_shapes[0][1] * panels * width

        def row_tile(r: int) -> int:
            """Rows per forall tile: all of them with panels outer, else ragged_tile."""
            return m if outer else ragged_tile(m, r)

        def even(r: int, q: int) -> bool:
            rest = row_tile(r) % r
            return panels % q == 0 and (rest == 0 or 2 * rest >= r)

        def shareable(r: int, q: int) -> bool:
            tiles = (m // row_tile(r)) * (panels // q if panels % q == 0 else 1)
            return tiles >= t.planned_threads or macs < PARALLEL_MACS

        def cost(r: int, q: int) -> tuple[float, float]:
            total = sum(step_cycles(h, p * per_panel)
                        for h in block_heights(m, r, row_tile(r))
                        for p in block_heights(panels, q, panels if panels % q else q))
            total *= (1 if even(r, q) else UNEVEN_BLOCK_COST) \
                * (1 if shareable(r, q) else t.planned_threads)
            return total, (r + q * per_panel) / (r * q * per_panel)

        blocks = [(r, q) for r in range(1, min(m, 2 * t.tiling.matmul_rows) + 1)
                  for q in range(1, panels + 1)
                  if self.registers(r, q * per_panel) <= t.registers
                  and r == fixed.get("rows", r) and q == fixed.get("panels", q)
                  and not (outer and panels % q)]
        if not blocks:      # a fixed size that fits nothing: check() says why
            return int(fixed.get("rows", 1)), int(fixed.get("panels", 1))
        return min(blocks, key=lambda b: cost(*b))

    def panels_outer(self, k: Kernel, t: Target) -> bool:
        """Weights of more than half the L2 that outweigh the rows: with the row blocks
        outermost every block of rows would stream all of them from L3 or DRAM; with the
        panel blocks outermost each is read once and the rows (the smaller) are re-read
        from L2."""
        m, panels, width = self.shape(k)
        depth = k.main_operand_shapes[0][1]
        weights = panels * width * depth * 4
        return 2 * weights > t.memory.l2 and panels * width > m

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        outer = pick(fixed, "panels_outer", lambda: self.panels_outer(k, t))
        rows, panels = self.register_block(k, t, {**fixed, "panels_outer": outer})
        # Off by default: the hardware prefetchers follow each panel's contiguous stream
        # (a 1024 -> 1000 dense layer, 4 MB: 0.25 ms without, 0.38 ms with).
        return {"rows": rows, "panels": panels, "panels_outer": outer,
                "prefetch": pick(fixed, "prefetch", lambda: False)}

    def facts(self, k: Kernel, t: Target, chosen: Chosen) -> Chosen:
        return {"panel": self.shape(k)[2], "m": self.shape(k)[0]}

    def check(self, k: Kernel, t: Target, s: Chosen) -> None:
        m, panels, width = self.shape(k)
        require(1 <= s["rows"] <= m, "rows", s["rows"], f"1 to {m} (the layer's rows)")
        require(1 <= s["panels"] <= panels, "panels", s["panels"],
                f"1 to {panels} (the filters' panels of {width})")
        vectors = s["panels"] * max(width // t.lanes, 1)
        used = self.registers(s["rows"], vectors)
        require(used <= t.registers, "panels", s["panels"],
                f"a register block that fits {t.registers} registers (rows x panels takes "
                f"{used} with its operands)")
        if s["panels_outer"]:
            divides(panels, "panels", s["panels"], "filters' panels (with panels_outer)")

    def cut(self, k: Kernel, t: Target, chosen: Chosen) -> Cut | None:
        """Ragged rows: forall tiles of the smallest divisor of M holding a block, the
        blocks inside; ragged panels: the forall takes all of them (or a divisor that
        leaves tiles for the planned threads when M has too few), the blocks inside."""
        m, panels, _ = self.shape(k)
        rows, block = chosen["rows"], chosen["panels"]
        if chosen["panels_outer"] or (m % rows == 0 and panels % block == 0):
            return None     # (panels outer: the rows are cut inside the tile, tile_fused)
        m_tile = ragged_tile(m, rows)
        p_tile = block
        if panels % block:
            few = m // m_tile < t.planned_threads
            p_tile = max((d for d in range(1, panels // t.planned_threads + 1)
                          if panels % d == 0), default=panels) if few else panels
            p_tile = max(p_tile, block) if panels % max(p_tile, block) == 0 else panels
        dims = ([Dim(0, rows, m_tile, False)] if m_tile != rows else []) \
            + ([Dim(1, block, p_tile, False)] if p_tile != block else [])
        return [m_tile, p_tile], dims, 4 if k.root_role == "main" else 3

    def piece_vector_sizes(self, s: Strategy, t: Target, role: str,
                           sizes: dict[int, int]) -> Sizes | None:
        return [sizes.get(0, s["rows"]), sizes.get(1, s["panels"]), s["panel"]] \
            + ([1] if role == "main" else [])

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return [0 if s["panels_outer"] else s["rows"], s["panels"]]

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        return [0, 0, 0, 1] if role == "main" else None

    def row_pieces(self, s: Strategy) -> list[Dim]:
        """Panels outer: the rows of the tile (all of M), when blocks do not divide them."""
        if not s["panels_outer"] or s["m"] % s["rows"] == 0:
            return []
        return [Dim(0, s["rows"], int(s["m"]), False)]

    def tile_fused(self, script: Script, s: Strategy, t: Target,
                   fused: dict[str, str]) -> bool:
        """Panels outer: inside each forall tile (a block of panels, every row), a serial
        loop over the row blocks with the chain fused into it, or pieces of them."""
        if not s["panels_outer"]:
            return False
        reduction = [0] if s.root_role == "main" else []
        producers = [r for r in ("main", "init") if r != s.root_role]
        dims = self.row_pieces(s)
        if dims:
            found = cascade(script, Root(s.part(s.root_role), 3 + len(reduction)),
                            fused[s.root_role], "", dims)
            parts = [({r: script.match_part_in(s.part(r), container) for r in s.roles},
                      f"@{index}") for index, (container, _) in enumerate(found)]
        else:
            root, loop = script.tile_forall(fused[s.root_role], [s["rows"], 0, 0] + reduction)
            handles = {s.root_role: root}
            for role in producers:
                handles[role], loop = script.fuse_into(fused[role], loop)
            script.mark_serial(loop)
            parts = [(handles, "")]
        for handles, suffix in parts:
            main, loops = script.tile(handles["main"], [0, 0, 0, 1])
            if self.prefetches(s):
                script.mark_prefetch(loops[-1])
            script.annotate(main, s.part("main" + suffix))
            if suffix:
                for role in (r for r in s.roles if r != "main"):
                    script.annotate(handles[role], s.part(role + suffix))
        return True

    def extra_roles(self, s: Strategy, t: Target) -> list[str]:
        dims = self.row_pieces(s)
        return [part(r, i) for i in range(len(piece_sizes(dims)) if dims else 0)
                for r in s.roles]

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        name, index = index_of(role)
        dims = self.row_pieces(s)
        if (index is None) == bool(dims):
            return None       # cut into pieces: each piece has its own role
        rows = piece_sizes(dims)[index].get(0, s["rows"]) if index is not None else s["rows"]
        return [rows, s["panels"], s["panel"]] + ([1] if name == "main" else [])

    def prefetches(self, s: Strategy) -> bool:
        return bool(s["prefetch"])


class Conv2D(Schedule):
    """A general conv: like depthwise, plus a reduction over input channels in chunks.
    The filter tile divides the filter count, with fixed-width vectors even on a scalable
    target: the 1-D conv vectorizer can mask neither filters nor scalable dimensions."""
    decisions = (WIDTH,
                 Decision("filters", "filters per register block (divides the filters)"),
                 Decision("channel_chunk", "input channels per reduction step (divides them)"))
    out_width, window_axis, channel_axis = (2, 2), 1, 2   # KW and C of the HWCF kernel
    rank, main_loops = 2, 7   # N, OH, OW, F, KH, KW, C

    def extent(self, k: Kernel) -> int:
        return k.main_operand_shapes[self.out_width[0]][self.out_width[1]]

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        kernel = k.main_operand_shapes[1]
        return {"width": pick(fixed, "width",
                              lambda: pixel_block(self.extent(k), t.tiling.depthwise_width, t)),
                "filters": pick(fixed, "filters", lambda: lane_block(
                    kernel[-1], t.lanes * t.tiling.conv_filter_vectors, t)),
                "channel_chunk": pick(fixed, "channel_chunk",
                                      lambda: divisor_tile(kernel[self.channel_axis], 16))}

    def facts(self, k: Kernel, t: Target, chosen: Chosen) -> Chosen:
        return {"window": k.main_operand_shapes[1][self.window_axis]}

    def check(self, k: Kernel, t: Target, s: Chosen) -> None:
        kernel = k.main_operand_shapes[1]
        if t.scalable:   # not cut: the 1-D conv vectorizer masks neither filters nor width
            divides(self.extent(k), "width", s["width"], "output width")
            divides(kernel[-1], "filters", s["filters"], "filter count")
        else:
            require(1 <= s["width"] <= self.extent(k), "width", s["width"],
                    f"1 to the output width ({self.extent(k)})")
            lanes_of("filters", s["filters"])
        divides(kernel[self.channel_axis], "channel_chunk", s["channel_chunk"],
                "input channel count")

    def cut(self, k: Kernel, t: Target, chosen: Chosen) -> Cut | None:
        loops = self.main_loops if k.root_role == "main" else self.rank + 2
        return window_cut(self.extent(k), chosen["width"], k.main_operand_shapes[1][-1],
                          chosen["filters"], self.rank, loops, t)

    def piece_vector_sizes(self, s: Strategy, t: Target, role: str,
                           sizes: dict[int, int]) -> Sizes | None:
        pixels = sizes.get(self.rank, s["width"])
        filters = sizes.get(self.rank + 1, s["filters"])
        if role == "main":
            return [1, pixels, filters, s["window"], s["channel_chunk"]]
        return [1] * self.rank + [pixels, filters]

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return [1, 1, s["width"], s["filters"]]

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        return [0, 0, 0, 0, 1, 0, s["channel_chunk"]] if role == "main" else None

    def decomposes(self) -> bool:
        return True

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if role == "main":
            return [1, s["width"], s["filters"], s["window"], s["channel_chunk"]]
        return [1, 1, s["width"], s["filters"]]


class Conv1D(Conv2D):
    out_width, window_axis, channel_axis = (2, 1), 0, 1   # K and C of the WCF kernel
    rank, main_loops = 1, 5   # N, OW, F, KW, C

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return [1, s["width"], s["filters"]]

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        return [0, 0, 0, 0, s["channel_chunk"]] if role == "main" else None

    def decomposes(self) -> bool:
        return False

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if role == "main":
            return [1, s["width"], s["filters"], s["window"], s["channel_chunk"]]
        return [1, s["width"], s["filters"]]


class Pool2D(Depthwise2D):
    """Pooling decomposes and vectorizes like a depthwise conv (its window is the kernel),
    but the pooling vectorizer masks neither channels nor scalable dimensions: the channel
    tile divides C and vectors are fixed-width."""
    decisions = (WIDTH, Decision("channels", "channels per vector (divides them)"))

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        return super().choose(k, t, fixed) | {"channels": pick(
            fixed, "channels", lambda: lane_block(k.main_operand_shapes[0][-1], t.lanes, t))}

    def check(self, k: Kernel, t: Target, s: Chosen) -> None:
        super().check(k, t, s)
        if t.scalable:
            divides(k.main_operand_shapes[0][-1], "channels", s["channels"], "channel count")
        else:
            lanes_of("channels", s["channels"])

    def lane_block(self, k: Kernel, t: Target, chosen: Chosen) -> int:
        return int(chosen["channels"])

    def block(self, s: Strategy, t: Target) -> int:
        return int(s["channels"])

    def channels(self, s: Strategy, t: Target) -> int | Scalable:
        return s["channels"]

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return [1, 1, s["width"], s["channels"]]

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        return [0, 0, 0, 0, 1, 0] if role == "main" else None

    def peels(self, s: Strategy, t: Target) -> bool:
        return False


class Elementwise(Schedule):
    """Channel vectors over a few rows; the ragged edges are masked. A global pooling's
    spatial sums (role `reduce`) are fused into each channel tile of its scaling epilogue
    and step one row and a block of pixels at a time, one accumulator vector per tile:
    left outside the tiles, they were a scalar loop (1.2 GFLOP/s on 14x14x672)."""
    decisions = (Decision("rows", "rows (of the next-to-last dimension) per tile"),)

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        shape = k.root_shape
        return {"rows": pick(fixed, "rows", lambda: min(shape[-2], 8) if len(shape) >= 2 else 0)}

    def facts(self, k: Kernel, t: Target, chosen: Chosen) -> Chosen:
        facts = {"rank": len(k.root_shape)}
        if "reduce" in k.operand_shapes:
            summed = k.operand_shapes["reduce"][0]      # (N, [H,] W, C)
            facts |= {"reduce_rank": len(summed),
                      "reduce_pixels": divisor_tile(summed[-2], REDUCE_PIXELS)}
        return facts

    def check(self, k: Kernel, t: Target, s: Chosen) -> None:
        shape = k.root_shape
        if len(shape) >= 2:
            require(1 <= s["rows"] <= shape[-2], "rows", s["rows"],
                    f"1 to {shape[-2]} (the layer's rows)")
        else:
            require(s["rows"] == 0, "rows", s["rows"], "0 (a rank-1 tensor has no rows)")

    def leading(self, s: Strategy) -> list[int]:
        rank = s["rank"]
        return [1] * max(rank - 2, 0) + ([s["rows"]] if rank >= 2 else [])

    def root_tiles(self, s: Strategy, t: Target) -> list[int]:
        return self.leading(s) + [forall_channel(t)]

    def reduce_steps(self, s: Strategy) -> list[int]:
        """The spatial steps of the fused sums: one row, then `reduce_pixels` pixels."""
        return [1] * (s["reduce_rank"] - 3) + [s["reduce_pixels"]]

    def inner_tiles(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if role == "reduce":
            return None if t.scalable else [0, *self.reduce_steps(s), 0]
        return [0] * len(self.leading(s)) + [inner_channel(t)] if t.scalable else None

    def vector_sizes(self, s: Strategy, t: Target, role: str) -> Sizes | None:
        if role == "reduce":
            # Scalable: MLIR 22 lowers the masked multi_reduction with a fixed-length mask
            # for scalable lanes (an invalid arith.select); the sums stay scalar loops there.
            return None if t.scalable else [s["rows"], *self.reduce_steps(s), channel_vector(t)]
        # The main op of an elementwise chain (e.g. a batch norm) is elementwise too.
        return self.leading(s) + [channel_vector(t)]


# Pixels of a row the fused pooling sums take per step (a divisor of the width up to it).
REDUCE_PIXELS = 8


class ScalarLoops(Schedule):
    """Left to scalar loops on purpose: a softmax normalises one classifier row (reductions
    and elementwise ops over ~1000 values), microseconds per call."""
    tiled = False

    def choose(self, k: Kernel, t: Target, fixed: Fixed) -> Chosen:
        return {}
