"""pack-matmul-weights: mark lone 1x1 convs and dense layers to lower with their weights
packed in panels of filters, (F/P, K, P), as the fused separable kernel's are: a register
block then reads whole contiguous lines of each panel per reduction step, where the K x F
layout reads a short run of every weight row, a new page every few steps for wide layers,
which the hardware prefetchers do not follow."""
import numpy as np
from mlir import ir

from .fuse_separable import FUSED, MAX_PANEL_PADDING, padded_filters
from .ir_util import is_pointwise, shape_of, walk_ops
from .registry import module_pass

# On the 1x1 conv or dense layer: its weights' panel width (the attribute's value).
PACKED = "sep.packed_panel"


def packed_panel(op: ir.OpView) -> int | None:
    """The panel width pack-matmul-weights chose for op, if it marked it."""
    return ir.IntegerAttr(op.attributes[PACKED]).value if PACKED in op.attributes else None


def packable(op: ir.OpView, panel: int) -> bool:
    """Filters a multiple of the panel, or padded to one for a single row (a batch-1 dense
    layer): its padded output is a strided view, copied out where it is a graph output,
    which for many rows cost more than the packing gained (1x1 40x40x24 -> 56: 0.86x of
    LiteRT padded, 0.95x on unpacked weights)."""
    kernel = shape_of(op.operands[1])
    filters = kernel[-1]
    padding = padded_filters(filters, panel) - filters
    rows = int(np.prod(shape_of(op.result)[:-1]))
    if padding > MAX_PANEL_PADDING * filters or (padding and rows > 1):
        return False
    if op.name == "sep.dense":
        return True
    return FUSED not in op.attributes and is_pointwise(op)


@module_pass("pack-matmul-weights")
def pack_matmul_weights(module: ir.Operation, *, panel_filters: int = 16) -> None:
    """Mark 1x1 convs not fused with a depthwise conv, and dense layers, whose filters are a
    multiple of the panel (or of one row, padded to one) to lower with packed weight panels.

    panel_filters: filters per panel, one cache line of f32."""
    for op in walk_ops(module, ("sep.conv2d", "sep.conv1d", "sep.dense")):
        if packable(op, panel_filters):
            op.attributes[PACKED] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64),
                                                       panel_filters)
