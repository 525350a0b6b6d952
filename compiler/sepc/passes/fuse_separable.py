"""fuse-separable: mark each depthwise conv whose only user is a 1x1 conv, so that both lower
to one kernel and the depthwise result never goes to memory as a whole."""
from mlir import ir

from .ir_util import defining_op, int_array, shape_of, use_count, walk_ops
from .registry import module_pass

DEPTHWISE_OF = {"sep.conv2d": "sep.depthwise_conv2d", "sep.conv1d": "sep.depthwise_conv1d"}

# On the 1x1 conv: lower its producer with it, its weights packed in panels of this many
# filters (the attribute's value).
FUSED = "sep.fused_depthwise"
FUSED_PRODUCER = "sep.fused_into_consumer"   # on the depthwise conv: lowered by its consumer


# Filters past a multiple of the panel are computed in a last panel padded with zero
# filters (dropped from the result), where that pads at most this share of the filters:
# even 24 -> 32 costs less than a depthwise result written to memory and read back by a
# second kernel; 8 -> 16 would double the multiply-adds.
MAX_PANEL_PADDING = 1 / 2


def padded_filters(filters: int, panel: int) -> int:
    return -(-filters // panel) * panel


def panel_of(pw: ir.OpView) -> int:
    """The panel width fuse-separable chose for a marked 1x1 conv."""
    return ir.IntegerAttr(pw.attributes[FUSED]).value


def fusible(pw: ir.OpView, dw: ir.OpView, panel: int) -> bool:
    """Whether the 1x1 conv pw and the op dw feeding it can be one kernel."""
    if dw.name != DEPTHWISE_OF[pw.name] or use_count(dw.result) != 1:
        return False
    pw_kernel = shape_of(pw.operands[1])
    dw_kernel = shape_of(dw.operands[1])
    filters = pw_kernel[-1]
    padding = padded_filters(filters, panel) - filters
    return (all(k == 1 for k in pw_kernel[:-2]) and padding <= MAX_PANEL_PADDING * filters
            and all(s == 1 for s in int_array(pw, "strides"))
            and not any(int_array(pw, "padding"))
            and dw_kernel[-1] == 1                       # depth multiplier 1
            and shape_of(dw.result)[0] == 1)


@module_pass("fuse-separable")
def fuse_separable(module: ir.Operation, *, panel_filters: int = 16) -> None:
    """Mark 1x1 convs (stride 1, filters a multiple of the panel or padded to one) fed by a
    single-use depthwise conv.

    panel_filters: filters per panel of packed 1x1 weights, one cache line of f32, so a
    register block reads whole contiguous lines whatever the filter count."""
    for pw in walk_ops(module, tuple(DEPTHWISE_OF)):
        dw = defining_op(pw.operands[0])
        if dw is not None and fusible(pw, dw, panel_filters):
            pw.attributes[FUSED] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64),
                                                      panel_filters)
            dw.attributes[FUSED_PRODUCER] = ir.UnitAttr.get()
