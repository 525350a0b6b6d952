"""A tiny builder for transform-dialect scripts, so schedules read as a list of steps."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

ANY = "!transform.any_op"
SERIAL = "sep.serial"
PREFETCH = "sep.prefetch"   # on a reduction loop: its kernel's strategy allows prefetching


@dataclass(frozen=True)
class Scalable:
    """A size multiplied by the hardware's vscale, printed `[n]` in transform IR."""
    base: int

    def __str__(self) -> str:
        return f"[{self.base}]"


Sizes = Sequence[Union[int, Scalable]]   # tile or vector sizes, one per dimension


def sizes_text(sizes: Sizes) -> str:
    """`[1, 8, [4], 3]`: scalable sizes print themselves as `[n]`."""
    return "[" + ", ".join(str(size) for size in sizes) + "]"


class Script:
    """Accumulates the body of `@__transform_main`; each step returns the handle it made."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        return f"%h{self.count}"

    def emit(self, line: str) -> None:
        self.lines.append("    " + line)

    def match_part(self, part: str) -> str:
        h = self.fresh()
        self.emit(f'{h} = transform.structured.match attributes{{sep.part = "{part}"}} '
                  f"in %root : ({ANY}) -> {ANY}")
        return h

    def match_op(self, name: str) -> str:
        h = self.fresh()
        self.emit(f'{h} = transform.structured.match ops{{["{name}"]}} in %root : ({ANY}) -> {ANY}')
        return h

    def tile(self, handle: str, sizes: Sizes) -> tuple[str, list[str]]:
        """tile_using_for; returns the tiled op and the loops, outermost first."""
        loops = sum(1 for s in sizes if s)
        if loops == 0:
            return handle, []
        tiled, base = self.fresh(), self.fresh()
        results = ", ".join([ANY] * (loops + 1))
        self.emit(f"{tiled}, {base}:{loops} = transform.structured.tile_using_for {handle} "
                  f"tile_sizes {sizes_text(sizes)} : ({ANY}) -> ({results})")
        return tiled, [f"{base}#{i}" for i in range(loops)]

    def fuse(self, handle: str, sizes: list[int]) -> tuple[str, str]:
        """Tile with scf.for loops and fuse the producers of the operands, destinations
        included, greedily into them; returns the tiled op and the outermost loop."""
        loops = sum(1 for size in sizes if size)
        tiled, base = self.fresh(), self.fresh()
        results = ", ".join([ANY] * (loops + 1))
        self.emit(f"{tiled}, {base}:{loops} = transform.structured.fuse {handle} "
                  f"tile_sizes {sizes_text(sizes)} : ({ANY}) -> ({results})")
        return tiled, f"{base}#0"

    def match_part_in(self, part: str, container: str) -> str:
        h = self.fresh()
        self.emit(f'{h} = transform.structured.match attributes{{sep.part = "{part}"}} '
                  f"in {container} : ({ANY}) -> {ANY}")
        return h

    def peel(self, loop: str) -> tuple[str, str]:
        """Split a loop into full steps and a remainder: (main loop, remainder loop)."""
        cast, main, rest = self.fresh(), self.fresh(), self.fresh()
        self.emit(f'{cast} = transform.cast {loop} : {ANY} to !transform.op<"scf.for">')
        self.emit(f'{main}, {rest} = transform.loop.peel {cast} : '
                  f'(!transform.op<"scf.for">) -> ({ANY}, {ANY})')
        return main, rest

    def tile_forall(self, handle: str, sizes: list[int]) -> tuple[str, str]:
        """tile_using_forall; unlike a loop nest, a forall lets producers of the root's
        destination (its bias/zero init) fuse in through the shared output."""
        tiled, loop = self.fresh(), self.fresh()
        self.emit(f"{tiled}, {loop} = transform.structured.tile_using_forall {handle} "
                  f"tile_sizes {sizes_text(sizes)} : ({ANY}) -> ({ANY}, {ANY})")
        return tiled, loop

    def fuse_into(self, producer: str, loop: str) -> tuple[str, str]:
        fused, new_loop = self.fresh(), self.fresh()
        self.emit(f"{fused}, {new_loop} = transform.structured.fuse_into_containing_op "
                  f"{producer} into {loop} : ({ANY}, {ANY}) -> ({ANY}, {ANY})")
        return fused, new_loop

    def mark_serial(self, loop: str) -> None:
        """Mark a one-dimensional forall nested in a parallel one to become an scf.for
        after bufferization (`serial_loops_script`): on tensors, its shared output is
        what lets the producers of its destination fuse into it."""
        self.emit(f'transform.annotate {loop} "{SERIAL}" : {ANY}')

    def serialize_marked_loops(self) -> None:
        loops = self.fresh()
        self.emit(f'{loops} = transform.structured.match ops{{["scf.forall"]}} '
                  f'attributes{{{SERIAL}}} in %root : ({ANY}) -> {ANY}')
        self.emit(f"transform.foreach {loops} : {ANY} {{\n"
                  f"    ^bb0(%loop: {ANY}):\n"
                  f"      transform.loop.forall_to_for %loop : ({ANY}) -> {ANY}\n"
                  "    }")

    def decompose(self, handle: str) -> str:
        h = self.fresh()
        self.emit(f"{h} = transform.structured.decompose {handle} : ({ANY}) -> {ANY}")
        return h

    def mark_prefetch(self, loop: str) -> None:
        """Mark a reduction loop whose weights prefetch-next-panels may prefetch."""
        self.emit(f'transform.annotate {loop} "{PREFETCH}" : {ANY}')

    def annotate_attr(self, handle: str, name: str, attr: object) -> None:
        p = self.fresh()
        self.emit(f"{p} = transform.param.constant {attr} -> !transform.any_param")
        self.emit(f'transform.annotate {handle} "{name}" = {p} : {ANY}, !transform.any_param')

    def annotate(self, handle: str, part: str) -> None:
        p = self.fresh()
        self.emit(f'{p} = transform.param.constant "{part}" -> !transform.any_param')
        self.emit(f'transform.annotate {handle} "sep.part" = {p} : {ANY}, !transform.any_param')

    def vectorize(self, handle: str, sizes: Sizes, named_contraction: bool = False,
                  full_tiles: bool = False) -> None:
        flags = (["create_named_contraction"] if named_contraction else []) + \
                (["assume_dynamic_dims_match_vec_sizes"] if full_tiles else [])
        options = f" {{{', '.join(flags)}}}" if flags else ""
        self.emit(f"transform.structured.vectorize {handle} vector_sizes {sizes_text(sizes)}"
                  f"{options} : {ANY}")

    def cleanup(self) -> None:
        """Canonicalize in its own apply_patterns: mixing it with lowering patterns can loop."""
        f = self.match_op("func.func")
        self.emit(f"transform.apply_patterns to {f} {{\n"
                  "      transform.apply_patterns.canonicalization\n"
                  f"    }} : {ANY}")
        self.emit(f"transform.apply_cse to {f} : {ANY}")

    def text(self) -> str:
        body = "\n".join(self.lines)
        return ("module attributes {transform.with_named_sequence} {\n"
                "  transform.named_sequence @__transform_main("
                f"%root: {ANY} {{transform.readonly}}) {{\n{body}\n    transform.yield\n"
                "  }\n}\n")
