"""verify-sep: the shape rules of the `sep` ops that IRDL cannot state."""
from mlir import ir

from ..errors import InternalError
from .ir_util import shape_of, walk_ops
from .registry import sep_pass

CONV_OPS = ("sep.conv2d", "sep.conv1d", "sep.depthwise_conv2d", "sep.depthwise_conv1d",
            "sep.separable_conv2d", "sep.separable_conv1d")


def check_conv(op) -> str | None:
    spatial = len(ir.DenseI64ArrayAttr(op.attributes["strides"]))
    x, kernel = shape_of(op.operands[0]), shape_of(op.operands[1])
    out = shape_of(op.result)
    if len(x) != spatial + 2 or len(out) != spatial + 2:
        return f"input/output rank must be {spatial + 2}"
    if len(kernel) != spatial + 2 or kernel[spatial] != x[-1]:
        return f"kernel {kernel} does not take {x[-1]} input channels"
    channels = kernel[-1] * (kernel[-2] if "depthwise" in op.name else 1)
    if "separable" in op.name:
        pointwise = shape_of(op.operands[2])
        if pointwise[-2] != kernel[-2] * kernel[-1]:
            return f"pointwise kernel {pointwise} does not follow depthwise kernel {kernel}"
        channels = pointwise[-1]
    elif "depthwise" not in op.name:
        channels = kernel[-1]
    if out[-1] != channels or shape_of(op.operands[-1]) != [channels]:
        return f"{channels} output channels expected, found {out[-1]} (bias {shape_of(op.operands[-1])})"
    if len(ir.DenseI64ArrayAttr(op.attributes["padding"])) != 2 * spatial:
        return "padding needs a (before, after) pair per spatial dimension"
    return None


def check_same_shapes(op) -> str | None:
    shapes = {tuple(shape_of(v)) for v in op.operands} | {tuple(shape_of(op.result))}
    return None if len(shapes) == 1 else f"operands and result differ in shape: {sorted(shapes)}"


CHECKS = {name: check_conv for name in CONV_OPS} | {"sep.add": check_same_shapes}


@sep_pass("verify-sep")
def verify_sep(module: ir.Operation) -> None:
    """Check kernel, bias and result shapes of every sep op."""
    for op in walk_ops(module, tuple(CHECKS)):
        problem = CHECKS[op.name](op)
        if problem:
            raise InternalError(f"invalid {op.name} at {op.location}: {problem}")
