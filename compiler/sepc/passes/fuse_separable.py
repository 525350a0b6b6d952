"""fuse-separable: mark each depthwise conv whose only user is a 1x1 conv, so that both lower
to one kernel and the depthwise result never goes to memory as a whole."""
from mlir import ir

from .ir_util import defining_op, int_array, shape_of, use_count, walk_ops
from .registry import sep_pass

DEPTHWISE_OF = {"sep.conv2d": "sep.depthwise_conv2d", "sep.conv1d": "sep.depthwise_conv1d"}

# The fused pointwise weights are packed in panels of this many output channels (one 64-byte
# cache line of f32), so a register block reads whole contiguous lines, whatever F is.
PANEL = 16

FUSED = "sep.fused_depthwise"            # on the 1x1 conv: lower its producer with it
FUSED_PRODUCER = "sep.fused_into_consumer"   # on the depthwise conv: lowered by its consumer


def fusible(pw: ir.OpView) -> bool:
    dw = defining_op(pw.operands[0])
    if dw is None or dw.name != DEPTHWISE_OF[pw.name] or use_count(dw.result) != 1:
        return False
    pw_kernel = shape_of(pw.operands[1])
    dw_kernel = shape_of(dw.operands[1])
    return (all(k == 1 for k in pw_kernel[:-2]) and pw_kernel[-1] % PANEL == 0
            and all(s == 1 for s in int_array(pw, "strides"))
            and not any(int_array(pw, "padding"))
            and dw_kernel[-1] == 1                       # depth multiplier 1
            and shape_of(dw.result)[0] == 1)


@sep_pass("fuse-separable")
def fuse_separable(module: ir.Operation) -> None:
    """Mark 1x1 convs (stride 1, F a multiple of 16) fed by a single-use depthwise conv."""
    for pw in walk_ops(module, tuple(DEPTHWISE_OF)):
        if fusible(pw):
            pw.attributes[FUSED] = ir.UnitAttr.get()
            defining_op(pw.operands[0]).attributes[FUSED_PRODUCER] = ir.UnitAttr.get()
