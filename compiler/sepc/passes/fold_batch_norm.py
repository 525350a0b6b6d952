"""fold-batch-norm: inference batch norm is an affine map per channel, so it folds into the
kernel and bias of the conv or dense layer before it (the op table's `folds_batch_norm`
says which ops take it, and how their kernel scales). fold-rescaling: the same for a
rescaling (x * scale + offset) after such a layer, as Inception-ResNet scales its residual
branch's 1x1 conv."""
import numpy as np
from mlir import ir

from ..ops import BY_SEP_OP, FoldFn
from .ir_util import (batch_norm_affine, constant_array, defining_op, float_array,
                      string_attr, tensor_constant, use_count, walk_ops)
from .registry import module_pass


def foldable_producer(bn: ir.OpView) -> tuple[ir.OpView, FoldFn] | None:
    """The op feeding bn, if bn folds into it, and how its kernel scales."""
    producer = defining_op(bn.operands[0])
    if producer is None:
        return None
    sep = BY_SEP_OP.get(producer.name)
    if sep is None or sep.row.folds_batch_norm is None:
        return None
    # The conv's own output must be used only here, and not be activated already.
    if use_count(producer.result) != 1 or string_attr(producer, "activation") != "linear":
        return None
    return producer, sep.row.folds_batch_norm


def fold_affine(op: ir.OpView, scale: np.ndarray, shift: np.ndarray) -> bool:
    """Fold `x * scale + shift` (op, per output channel) into the layer feeding it, if
    that is a linear conv/dense whose output only op reads; whether it folded."""
    found = foldable_producer(op)
    if found is None:
        return False
    producer, scale_kernel = found
    kernel = constant_array(producer.operands[1]).astype(np.float64)
    bias = constant_array(producer.operands[2]).astype(np.float64)
    with ir.InsertionPoint(producer), producer.location:
        producer.operands[1] = tensor_constant(scale_kernel(kernel, scale))
        producer.operands[2] = tensor_constant(bias * scale + shift)
    producer.attributes["activation"] = op.attributes["activation"]
    op.result.replace_all_uses_with(producer.result)
    op.erase()
    return True


@module_pass("fold-batch-norm")
def fold_batch_norm(module: ir.Operation) -> None:
    """Fold sep.batch_norm into the kernel and bias of the linear conv/dense feeding it."""
    for bn in walk_ops(module, ("sep.batch_norm",)):
        fold_affine(bn, *batch_norm_affine(bn))


@module_pass("fold-rescaling")
def fold_rescaling(module: ir.Operation) -> None:
    """Fold sep.rescaling into the kernel and bias of the linear conv/dense feeding it."""
    for op in walk_ops(module, ("sep.rescaling",)):
        channels = ir.RankedTensorType(op.result.type).shape[-1]
        scale, offset = (np.broadcast_to(np.asarray(float_array(op, name)), (channels,))
                         for name in ("scale", "offset"))
        fold_affine(op, scale, offset)
