"""fuse-activation: a standalone activation layer becomes the activation of the layer before
it (an op whose table row says `fuses_activation`), so the lowering applies it in
registers before the store."""
from typing import TypeGuard

from mlir import ir

from ..ops import BY_SEP_OP
from .ir_util import defining_op, string_attr, use_count, walk_ops
from .registry import module_pass


def takes_activation(producer: ir.OpView | None) -> TypeGuard[ir.OpView]:
    if producer is None:
        return False
    sep = BY_SEP_OP.get(producer.name)
    return (sep is not None and sep.row.fuses_activation and use_count(producer.result) == 1
            and string_attr(producer, "activation") == "linear")


@module_pass("fuse-activation")
def fuse_activation(module: ir.Operation) -> None:
    """Merge sep.activation into a producer whose result has no other use and no activation."""
    for act in walk_ops(module, ("sep.activation",)):
        producer = defining_op(act.operands[0])
        if not takes_activation(producer):
            continue
        producer.attributes["activation"] = act.attributes["activation"]
        act.result.replace_all_uses_with(producer.result)
        act.erase()
