"""fuse-activation: a standalone activation layer becomes the activation of the layer before
it, so the lowering applies it in registers before the store."""
from mlir import ir

from .ir_util import defining_op, string_attr, use_count, walk_ops
from .registry import sep_pass

PRODUCERS_WITH_ACTIVATION = ("sep.conv2d", "sep.conv1d", "sep.depthwise_conv2d",
                             "sep.depthwise_conv1d", "sep.separable_conv2d",
                             "sep.separable_conv1d", "sep.dense", "sep.add", "sep.batch_norm")


@sep_pass("fuse-activation")
def fuse_activation(module: ir.Operation) -> None:
    """Merge sep.activation into a producer whose result has no other use and no activation."""
    for act in walk_ops(module, ("sep.activation",)):
        producer = defining_op(act.operands[0])
        if (producer is None or producer.name not in PRODUCERS_WITH_ACTIVATION
                or use_count(producer.result) != 1
                or string_attr(producer, "activation") != "linear"):
            continue
        producer.attributes["activation"] = act.attributes["activation"]
        act.result.replace_all_uses_with(producer.result)
        act.erase()
