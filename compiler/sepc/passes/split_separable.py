"""split-separable: a separable conv is a depthwise conv followed by a 1x1 pointwise conv."""
import numpy as np
from mlir import ir

from .ir_util import layer_name, shape_of, tensor_constant, walk_ops
from .registry import module_pass

DEPTHWISE_OF = {"sep.separable_conv2d": "sep.depthwise_conv2d",
                "sep.separable_conv1d": "sep.depthwise_conv1d"}
POINTWISE_OF = {"sep.separable_conv2d": "sep.conv2d", "sep.separable_conv1d": "sep.conv1d"}


@module_pass("split-separable")
def split_separable(module: ir.Operation) -> None:
    """Split each separable conv into sep.depthwise_conv and a 1x1 sep.conv."""
    for position, op in enumerate(walk_ops(module, tuple(DEPTHWISE_OF))):
        x, dw_kernel, pw_kernel, bias = op.operands
        rank = len(ir.DenseI64ArrayAttr(op.attributes["strides"]))
        mid_shape = shape_of(op.result)[:-1] + [shape_of(pw_kernel)[-2]]
        name = layer_name(op, position)
        with ir.InsertionPoint(op), ir.Location.name(f"{name}/depthwise"):
            zero_bias = tensor_constant(np.zeros(mid_shape[-1], np.float32))
            depthwise = ir.Operation.create(
                DEPTHWISE_OF[op.name],
                results=[ir.RankedTensorType.get(mid_shape, ir.F32Type.get())],
                operands=[x, dw_kernel, zero_bias],
                attributes={k: op.attributes[k] for k in ("strides", "dilations", "padding")}
                | {"activation": ir.StringAttr.get("linear")})
        with ir.InsertionPoint(op), ir.Location.name(f"{name}/pointwise"):
            pointwise = ir.Operation.create(
                POINTWISE_OF[op.name], results=[op.result.type],
                operands=[depthwise.result, pw_kernel, bias],
                attributes={"strides": ir.DenseI64ArrayAttr.get([1] * rank),
                            "dilations": ir.DenseI64ArrayAttr.get([1] * rank),
                            "padding": ir.DenseI64ArrayAttr.get([0] * (2 * rank)),
                            "activation": op.attributes["activation"]})
        op.result.replace_all_uses_with(pointwise.result)
        op.erase()
