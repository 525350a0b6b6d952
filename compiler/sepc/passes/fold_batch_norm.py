"""fold-batch-norm: inference batch norm is an affine map per channel, so it folds into the
kernel and bias of the conv or dense layer before it (the op table's `folds_batch_norm`
says which ops take it, and how their kernel scales)."""
import numpy as np
from mlir import ir

from ..ops import BY_SEP_OP, FoldFn
from .ir_util import (batch_norm_affine, constant_array, defining_op, string_attr,
                      tensor_constant, use_count, walk_ops)
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


@module_pass("fold-batch-norm")
def fold_batch_norm(module: ir.Operation) -> None:
    """Fold sep.batch_norm into the kernel and bias of the linear conv/dense feeding it."""
    for bn in walk_ops(module, ("sep.batch_norm",)):
        found = foldable_producer(bn)
        if found is None:
            continue
        producer, scale_kernel = found
        scale, shift = batch_norm_affine(bn)
        kernel = constant_array(producer.operands[1]).astype(np.float64)
        bias = constant_array(producer.operands[2]).astype(np.float64)
        with ir.InsertionPoint(producer), producer.location:
            producer.operands[1] = tensor_constant(scale_kernel(kernel, scale))
            producer.operands[2] = tensor_constant(bias * scale + shift)
        producer.attributes["activation"] = bn.attributes["activation"]
        bn.result.replace_all_uses_with(producer.result)
        bn.erase()
