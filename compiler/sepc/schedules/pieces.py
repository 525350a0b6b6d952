"""Ragged extents without masks: a dimension that its register block does not divide is cut
into pieces that each have a static size, every piece tiled and vectorized on its own.

Masked vectors cost a kernel most of its speed: a masked accumulator is not hoisted out of
the reduction loop (every step loads and stores it), and a forall tile that does not divide
its dimension has a dynamic size, so every tile is masked, not only the last. And a vector
whose lanes are not a power of two (48, 24 or 23 floats) is legalized by LLVM into shuffles:
a 5x48 matmul block ran 23x slower than 5x32 on AVX-512.

So the forall tiles a ragged dimension by a divisor of its extent, and inside each tile the
chain is tiled again (`transform.structured.fuse`, its producers fused) by the register
block, the last, partial step peeled off (`transform.loop.peel`, static sizes after it); the
remainder is tiled the same way by the next width: for a dimension of vector lanes, the
powers of two below the block (a 56-wide remainder of 64 -> 32 + 16 + 8), for any other
dimension (rows, pixels) the remainder itself. Each piece's parts are tagged `ROLE@INDEX`
and vectorized with that piece's sizes.

The strategy records the cut as facts: `forall` (the root's forall tiles), `pieces` (per
ragged dimension: loop, block, extent of its forall tile, whether it is a lane dimension)
and `root_loops` (the root's loop count).
"""
from __future__ import annotations

from dataclasses import dataclass

from .script import Script
from .strategy import Strategy


@dataclass(frozen=True)
class Dim:
    """One ragged dimension of a root: its loop, its register block, its forall tile's
    extent, and whether it is a dimension of vector lanes."""
    loop: int
    block: int
    extent: int
    lanes: bool

    def widths(self) -> list[int]:
        """The widths the extent is covered by, widest first."""
        if not self.lanes:
            return [self.block] + ([self.extent % self.block] if self.extent % self.block else [])
        widths, width = [], self.block
        while width >= 1:
            widths.append(width)
            width //= 2
        return widths


def smallest_divisor_at_least(extent: int, least: int) -> int:
    """The forall tile of a ragged dimension: the smallest divisor of its extent that holds a
    register block (the whole extent when none does)."""
    return next((d for d in range(max(least, 1), extent + 1) if extent % d == 0), extent)


def facts(forall: list[int], dims: list[Dim], root_loops: int) -> dict[str, object]:
    return {"forall": forall, "root_loops": root_loops,
            "pieces": [[d.loop, d.block, d.extent, int(d.lanes)] for d in dims]}


def dims_of(s: Strategy) -> list[Dim]:
    return [Dim(loop, block, extent, bool(lanes)) for loop, block, extent, lanes in s["pieces"]]


def cut(s: Strategy) -> bool:
    """Whether the strategy cuts its root into pieces."""
    return "pieces" in s.values


Piece = tuple[str, dict[int, int]]   # the loop that holds the piece, its size per ragged loop


@dataclass(frozen=True)
class Root:
    """The op cut into pieces: its part (to find it again in a loop) and its loop count."""
    part: str
    loops: int


def cascade(script: Script, root: Root, handle: str, container: str, dims: list[Dim],
            sizes: dict[int, int] | None = None) -> list[Piece]:
    """Tile the root (`handle`, inside `container`) along each ragged dimension in turn;
    returns every piece, in the order the scripts number them."""
    sizes = sizes or {}
    if not dims:
        return [(container, sizes)]
    dim, inner = dims[0], dims[1:]
    pieces: list[Piece] = []
    extent = dim.extent
    for width in dim.widths():
        if extent < width:
            continue
        if extent == width:           # one step: no loop
            return pieces + cascade(script, root, handle, container, inner,
                                    sizes | {dim.loop: width})
        tile = [0] * root.loops
        tile[dim.loop] = width
        tiled, loop = script.fuse(handle, tile)
        if extent % width == 0:
            return pieces + cascade(script, root, tiled, loop, inner, sizes | {dim.loop: width})
        full, rest = script.peel(loop)
        pieces += cascade(script, root, script.match_part_in(root.part, full), full, inner,
                          sizes | {dim.loop: width})
        handle, container = script.match_part_in(root.part, rest), rest
        extent %= width
    return pieces


def piece_sizes(dims: list[Dim]) -> list[dict[int, int]]:
    """Each piece's sizes, in script order (the cascade run on a script thrown away)."""
    loops = 1 + max((d.loop for d in dims), default=0)
    return [sizes for _, sizes in cascade(Script(), Root("", loops), "%root", "%loop", dims)]


def root_of(s: Strategy) -> Root:
    return Root(s.part(s.root_role), int(s["root_loops"]))


def index_of(role: str) -> tuple[str, int | None]:
    """`main@2` -> ("main", 2); a role of no piece -> (role, None)."""
    name, at, index = role.partition("@")
    return (name, int(index)) if at else (role, None)


def part(role: str, index: int) -> str:
    return f"{role}@{index}"
