"""LayerBuilder: builds one layer's chain of tagged Linalg ops (see lowering/values.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from mlir import ir
from mlir.dialects import linalg

from ..errors import InternalError
from ..passes.ir_util import is_zero_constant, shape_of
from .activations import ACTIVATIONS, softmax
from .values import collapse_to_2d, empty, f32_const, in_place, tag


@dataclass
class LayerBuilder:
    """Builds one layer's chain; `dest` is the output tensor to compute into, if any.

    `kinds` are the schedule kinds the layer's op may lower to (its op table row): a chain
    tagged with any other kind is a lowering that its row does not declare, an error.
    A layer built as the first half of another layer's kernel (the depthwise conv of a
    fused separable kernel) tags its parts with `prefix` under that layer's name and marks
    no kernel of its own."""
    layer: str
    kinds: tuple[str, ...]
    dest: ir.Value | None = None
    used_dest: bool = field(default=False)
    prefix: str = ""

    def tag(self, value: Any, role: str, kernel: str | None = None) -> ir.Value:
        if kernel is not None and not self.prefix and kernel not in self.kinds:
            raise InternalError(f"layer {self.layer!r}: lowered to schedule kind {kernel!r}, "
                                f"which its op table row does not list ({', '.join(self.kinds)})")
        return tag(value, self.layer, self.prefix + role, None if self.prefix else kernel)

    def final_init(self, shape: Sequence[int]) -> ir.Value:
        """Where the chain's last op writes: the graph output if this layer is one."""
        if self.dest is not None and not self.used_dest:
            dest_shape = shape_of(self.dest)
            if dest_shape == list(shape):
                self.used_dest = True
                return self.dest
            if int(np.prod(dest_shape)) == int(np.prod(shape)) and len(shape) == 2:
                self.used_dest = True
                return collapse_to_2d(self.dest)
        return empty(shape)

    def bias_init(self, bias: ir.Value, shape: Sequence[int],
                  into: ir.Value | None = None) -> ir.Value:
        """The chain's first op: the bias (or zeros) broadcast into its final buffer (or
        into `into`), over the leading dims the bias lacks."""
        init = self.final_init(shape) if into is None else into
        if is_zero_constant(bias):
            return self.tag(linalg.fill(f32_const(0.0), outs=[init]), "init")
        dims = list(range(len(shape) - len(shape_of(bias))))
        return self.tag(linalg.broadcast(bias, outs=[init], dimensions=dims), "init")

    def activate(self, value: ir.Value, activation: str, kernel: str) -> ir.Value:
        """Apply the activation in place as the chain's epilogue; return the chain's end.

        In place (outs only, no ins) so that, when the schedule tiles the epilogue, the
        main op and its init are producers of the destination and fuse into the same
        tile, and the whole chain writes one buffer."""
        if activation == "linear":
            return value
        if activation == "softmax":
            return softmax(value, value, self)
        body = ACTIVATIONS[activation].body
        assert body is not None    # only linear and softmax have none
        return self.tag(in_place(value, body), "epilogue", kernel)

    def convolve(self, main: ir.Value, activation: str, kernel: str) -> ir.Value:
        """Tag `main` and finish the chain: the epilogue, or main itself, is the root."""
        if activation in ("linear", "softmax"):
            # Softmax is a chain of its own (reductions over the row), not an epilogue.
            self.tag(main, "main", kernel)
            if activation == "softmax":
                return softmax(main, main, self.named(f"{self.layer}/softmax"))
            return main
        self.tag(main, "main")
        return self.activate(main, activation, kernel)

    def named(self, layer: str) -> LayerBuilder:
        """A builder of another chain (a softmax after a matmul) for the same op."""
        return LayerBuilder(layer, self.kinds)
