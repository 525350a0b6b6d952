"""fold-batch-norm: inference batch norm is an affine map per channel, so it folds into the
kernel and bias of the conv or dense layer before it."""
import numpy as np
from mlir import ir

from .ir_util import (constant_array, defining_op, string_attr, tensor_constant, use_count,
                      walk_ops)
from .registry import sep_pass

FOLDABLE_PRODUCERS = ("sep.conv2d", "sep.conv1d", "sep.depthwise_conv2d",
                      "sep.depthwise_conv1d", "sep.dense")


def batch_norm_affine(bn: ir.OpView) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) with batch_norm(x) == x * scale + shift, computed in float64."""
    gamma, beta, mean, variance = (constant_array(v).astype(np.float64) for v in bn.operands[1:])
    epsilon = ir.FloatAttr(bn.attributes["epsilon"]).value
    scale = gamma / np.sqrt(variance + epsilon)
    return scale, beta - mean * scale


def foldable_producer(bn: ir.OpView):
    producer = defining_op(bn.operands[0])
    if producer is None or producer.name not in FOLDABLE_PRODUCERS:
        return None
    # The conv's own output must be used only here, and not be activated already.
    if use_count(producer.result) != 1 or string_attr(producer, "activation") != "linear":
        return None
    return producer


@sep_pass("fold-batch-norm")
def fold_batch_norm(module: ir.Operation) -> None:
    """Fold sep.batch_norm into the kernel and bias of the linear conv/dense feeding it."""
    for bn in walk_ops(module, ("sep.batch_norm",)):
        producer = foldable_producer(bn)
        if producer is None:
            continue
        scale, shift = batch_norm_affine(bn)
        kernel = constant_array(producer.operands[1]).astype(np.float64)
        bias = constant_array(producer.operands[2]).astype(np.float64)
        # Output channels are the kernel's last axis, or (C, M) -> c*M+m for depthwise.
        per_channel = scale.reshape(kernel.shape[-2:]) if "depthwise" in producer.name else scale
        with ir.InsertionPoint(producer), producer.location:
            producer.operands[1] = tensor_constant(kernel * per_channel)
            producer.operands[2] = tensor_constant(bias * scale + shift)
        producer.attributes["activation"] = bn.attributes["activation"]
        bn.result.replace_all_uses_with(producer.result)
        bn.erase()
