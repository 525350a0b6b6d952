"""What a schedule's cost model knows about one layer's loop nest, read off the tagged
Linalg IR before tiling (the scripts later read only the strategy it chose)."""
from __future__ import annotations

from dataclasses import dataclass, field

from mlir import ir

from ..passes.ir_util import walk_ops


@dataclass
class Kernel:
    """One layer's chain of Linalg ops: tile `root`, fuse the other parts into it."""
    layer: str
    kind: str                  # the root's sep.kernel: depthwise2d, matmul, ...
    root_role: str             # "main" or "epilogue"
    roles: list[str]           # roles present, e.g. ["init", "main", "epilogue"]
    main_operand_shapes: list[list[int]]   # inputs then outputs of the main op
    root_shape: list[int]      # the root's output shape
    operand_shapes: dict[str, list[list[int]]] = field(default_factory=dict)  # role -> shapes


def shapes(op: ir.OpView) -> list[list[int]]:
    """Operand shapes; a scalar operand (a fill value) has the shape []."""
    def shape(t: ir.Type) -> list[int]:
        try:
            return list(ir.ShapedType(t).shape)
        except ValueError:
            return []
    return [shape(v.type) for v in op.operands]


def find_kernels(root: ir.Operation) -> list[tuple[Kernel, ir.OpView]]:
    """Every kernel with its root op (the op tagged `sep.kernel`), in IR order."""
    parts: dict[str, dict[str, ir.OpView]] = {}
    for op in walk_ops(root):
        if "sep.part" in op.attributes:
            layer, role = ir.StringAttr(op.attributes["sep.part"]).value.rsplit(":", 1)
            parts.setdefault(layer, {})[role] = op
    kernels = []
    for op in walk_ops(root):
        if "sep.kernel" not in op.attributes:
            continue
        layer = ir.StringAttr(op.attributes["sep.layer"]).value
        role = ir.StringAttr(op.attributes["sep.part"]).value.rsplit(":", 1)[1]
        roles = parts[layer]
        main = roles.get("main", op)
        kernels.append((Kernel(layer, ir.StringAttr(op.attributes["sep.kernel"]).value, role,
                               sorted(roles), shapes(main),
                               list(ir.ShapedType(op.results[0].type).shape),
                               {r: shapes(part) for r, part in roles.items()}), op))
    return kernels
