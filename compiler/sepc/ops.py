"""The op table: one row per model.json op, holding everything the stages need to know of it.

- model.json: the rank of its input, its fields (parser and default), how its output shape
  follows, which parameters it takes from the .npz, how many FLOPs it computes (frontend/);
- the `sep` dialect: the op it is emitted as, its parameter operands in order (the IRDL
  definition of the dialect is generated from these rows: dialects/);
- graph passes: whether a following activation layer fuses into it, how batch norm folds
  into its kernel, the shape rule verify-sep checks;
- lowering: the function that builds its Linalg chain, and the schedule kinds that chain
  may be tagged with (sepc.schedules.SCHEDULES has a schedule for each, checked below: an
  op can never silently stay a scalar loop).

Activations are the second table (lowering/activations.py: ACTIVATIONS). Adding an op is
adding a row here and its lowering; docs/architecture.md has the checklist.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import numpy as np
from mlir import ir

from .frontend import flops, shapes
from .frontend.fields import (Field, SameAs, boolean, explicit_padding, numbers, one_of,
                              positive_float, positive_int, spatial_sizes, target_shape,
                              window_padding)
from .frontend.weights import ParamSpec
from .lowering import layers as lower
from .lowering.activations import ACTIVATIONS
from .lowering.builder import LayerBuilder
from .passes import verify_rules

InferFn = Callable[[dict[str, Any], list[shapes.Operand], Any], tuple[int, ...]]
ParamsFn = Callable[[dict[str, Any], tuple[int, ...]], list[ParamSpec]]
# kernel, per-output-channel scale -> the kernel with batch norm folded in (float64)
FoldFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
VerifyFn = Callable[[ir.OpView], str | None]    # the problem with a sep op, or None
LowerFn = Callable[[ir.OpView, LayerBuilder], ir.Value]


def scale_filters(kernel: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Output channels are the kernel's last axis (conv, dense)."""
    return kernel * scale


def scale_depthwise(kernel: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Output channel c*M+m is the kernel's (C, M) pair."""
    return kernel * scale.reshape(kernel.shape[-2:])


MAX_INPUTS = 16      # inputs of an op whose inputs differ in shape (see Op.inputs_alike)


@dataclass(frozen=True, kw_only=True)
class Op:
    doc: str                        # one line: what the op computes
    input_rank: int | None          # 4 (NHWC), 3 (NWC); None: any (every value has rank >= 2)
    fields: dict[str, Field]
    infer: InferFn                  # output shape; resolves "padding" to pairs where it applies
    sep_op: str
    params: ParamsFn = shapes.no_params
    sep_operands: tuple[str, ...] = ()   # parameter operands after the data input(s)
    inputs_field: str = "input"     # "inputs" (add, multiply, concatenate): a list of names,
                                    # a variadic operand
    # With "inputs": whether they all have one type (add). IRDL binds a variadic operand's
    # values to one type, so inputs of different shapes (multiply's broadcast scales,
    # concatenate) are MAX_INPUTS operand groups of their own instead, the first two
    # required, the rest optional (an operandSegmentSizes attribute says which are given).
    inputs_alike: bool = True
    fuses_activation: bool = False  # a following activation layer becomes its own
    folds_batch_norm: FoldFn | None = None
    verify: VerifyFn | None = None
    lower: LowerFn | None = None    # None: a graph pass rewrites it away first
    lowered_by: str = ""            # that pass, for ops without a lowering
    schedule_kinds: tuple[str, ...] = ()      # () only for ops that move data (pad, reshape)
    flops: flops.FlopsFn = flops.none         # what `sepc profile` divides a layer's time into

    @property
    def spatial_rank(self) -> int | None:
        return None if self.input_rank is None else self.input_rank - 2

    @property
    def activation(self) -> bool:
        return "activation" in self.fields


ACTIVATION = Field(one_of(tuple(ACTIVATIONS)), "linear")
USE_BIAS = Field(boolean, True)
WEIGHTS = ("kernel", "bias")


def _conv_fields(*, filters: bool, depthwise: bool) -> dict[str, Field]:
    return {
        **({"filters": Field(positive_int)} if filters else {}),
        "kernel_size": Field(spatial_sizes),
        "strides": Field(spatial_sizes, 1),
        "dilation_rate": Field(spatial_sizes, 1),
        "padding": Field(window_padding, "valid"),
        **({"depth_multiplier": Field(positive_int, 1)} if depthwise else {}),
        "use_bias": USE_BIAS,
        "activation": ACTIVATION,
    }


def _conv_ops(suffix: str, rank: int) -> dict[str, Op]:
    layout = "NHWC input, HWCF kernel" if rank == 2 else "NWC input, WCF kernel"
    return {
        "conv" + suffix: Op(
            doc=f"A {rank}-D convolution, {layout}.",
            input_rank=rank + 2, fields=_conv_fields(filters=True, depthwise=False),
            infer=shapes.infer_conv, params=shapes.conv_params, sep_op="sep.conv" + suffix,
            sep_operands=WEIGHTS, fuses_activation=True, folds_batch_norm=scale_filters,
            verify=verify_rules.conv, lower=lower.lower_conv,
            schedule_kinds=("separable" + suffix, "matmul", "packed_matmul", "conv" + suffix,
                            "softmax"),
            flops=flops.conv),
        "depthwise_conv" + suffix: Op(
            doc=f"A depthwise {rank}-D convolution; kernel (K.., C, M), output channel c*M+m.",
            input_rank=rank + 2, fields=_conv_fields(filters=False, depthwise=True),
            infer=shapes.infer_depthwise, params=shapes.depthwise_params,
            sep_op="sep.depthwise_conv" + suffix, sep_operands=("depthwise_kernel", "bias"),
            fuses_activation=True, folds_batch_norm=scale_depthwise,
            verify=verify_rules.depthwise, lower=lower.lower_depthwise,
            schedule_kinds=("depthwise" + suffix, "softmax"), flops=flops.depthwise),
        "separable_conv" + suffix: Op(
            doc=f"A depthwise then 1x1 pointwise {rank}-D convolution.",
            input_rank=rank + 2, fields=_conv_fields(filters=True, depthwise=True),
            infer=shapes.infer_conv, params=shapes.separable_params,
            sep_op="sep.separable_conv" + suffix,
            sep_operands=("depthwise_kernel", "pointwise_kernel", "bias"),
            fuses_activation=True, verify=verify_rules.separable, lowered_by="split-separable",
            flops=flops.separable),
    }


POOL_FIELDS = {
    "pool_size": Field(spatial_sizes),
    "strides": Field(spatial_sizes, SameAs("pool_size")),
    # Explicit pairs too (the spec's padding rules hold for every padding field); padded
    # positions never count: max never picks them, average divides by real elements.
    "padding": Field(window_padding, "valid"),
}


def _global_pool(rank: int) -> Op:
    return Op(doc="The mean over all spatial dimensions (1-D or 2-D).",
              input_rank=rank + 2, fields={"keepdims": Field(boolean, False)},
              infer=shapes.infer_global_pool, sep_op="sep.global_avg_pool",
              lower=lower.lower_global_avg_pool, schedule_kinds=("elementwise",),
              flops=flops.global_average_pool)


OPS: dict[str, Op] = {
    **_conv_ops("2d", 2),
    **_conv_ops("1d", 1),
    # `activation` on batch_norm is an extension of the spec: importers fuse the following
    # activation layer into it (the shared conformance cases do).
    "batch_norm": Op(
        doc="Inference batch normalisation over the last axis.",
        input_rank=None, fields={"epsilon": Field(positive_float, 0.001), "activation": ACTIVATION},
        infer=shapes.infer_same_shape, params=shapes.batch_norm_params, sep_op="sep.batch_norm",
        sep_operands=("gamma", "beta", "moving_mean", "moving_variance"), fuses_activation=True,
        lower=lower.lower_batch_norm, schedule_kinds=("elementwise", "softmax"),
        flops=flops.batch_norm),
    "activation": Op(
        doc="An elementwise activation (or softmax over the last axis).",
        input_rank=None, fields={"activation": Field(one_of(tuple(ACTIVATIONS)))},
        infer=shapes.infer_same_shape, sep_op="sep.activation",
        lower=lower.lower_activation, schedule_kinds=("elementwise", "softmax")),
    "add": Op(
        doc="The elementwise sum of two or more tensors of one shape, then an activation.",
        input_rank=None, fields={"activation": ACTIVATION}, infer=shapes.infer_add,
        sep_op="sep.add", inputs_field="inputs", fuses_activation=True,
        verify=verify_rules.same_shapes, lower=lower.lower_add,
        schedule_kinds=("elementwise", "softmax"), flops=flops.add),
    # sepc's extensions of the spec (docs/model-json.md): the layers of squeeze-excite
    # blocks, preprocessing and dense blocks.
    "multiply": Op(
        doc="The elementwise product of two or more tensors, (N, 1.., C) ones broadcast over "
            "the spatial axes, then an activation.",
        input_rank=None, fields={"activation": ACTIVATION}, infer=shapes.infer_multiply,
        sep_op="sep.multiply", inputs_field="inputs", inputs_alike=False, fuses_activation=True,
        verify=verify_rules.broadcast_shapes, lower=lower.lower_multiply,
        schedule_kinds=("elementwise", "softmax"), flops=flops.multiply),
    "rescaling": Op(
        doc="x * scale + offset, each a number or one per channel, then an activation.",
        input_rank=None, fields={"scale": Field(numbers), "offset": Field(numbers, 0.0),
                                 "activation": ACTIVATION},
        infer=shapes.infer_rescaling, sep_op="sep.rescaling", fuses_activation=True,
        lower=lower.lower_rescaling, schedule_kinds=("elementwise", "softmax"),
        flops=flops.batch_norm),
    "concatenate": Op(
        doc="Two or more tensors side by side along the last (channel) axis.",
        input_rank=None, fields={}, infer=shapes.infer_concatenate, sep_op="sep.concatenate",
        inputs_field="inputs", inputs_alike=False, verify=verify_rules.concatenated,
        lower=lower.lower_concatenate,
        schedule_kinds=("elementwise",)),
    "cropping2d": Op(
        doc="Cropping of the two spatial dimensions (Keras Cropping2D).",
        input_rank=4, fields={"cropping": Field(explicit_padding)},
        infer=shapes.infer_cropping, sep_op="sep.cropping2d", lower=lower.lower_cropping,
        schedule_kinds=("elementwise",)),
    "zero_padding2d": Op(
        doc="Zero padding of the two spatial dimensions.",
        input_rank=4, fields={"padding": Field(explicit_padding)},
        infer=shapes.infer_zero_padding, sep_op="sep.zero_padding2d",
        lower=lower.lower_zero_padding),
    "max_pooling2d": Op(
        doc="Max pooling; padded positions are never picked.",
        input_rank=4, fields=POOL_FIELDS, infer=shapes.infer_pool, sep_op="sep.max_pool2d",
        lower=lower.lower_max_pool, schedule_kinds=("pool2d",)),
    "average_pooling2d": Op(
        doc="Average pooling over the real (unpadded) elements of each window.",
        input_rank=4, fields=POOL_FIELDS, infer=shapes.infer_pool, sep_op="sep.avg_pool2d",
        lower=lower.lower_avg_pool, schedule_kinds=("pool2d",), flops=flops.average_pool),
    "global_average_pooling2d": _global_pool(2),
    "global_average_pooling1d": _global_pool(1),
    "reshape": Op(
        doc="A reshape that keeps the batch dimension.",
        input_rank=None, fields={"target_shape": Field(target_shape)},
        infer=shapes.infer_reshape, sep_op="sep.reshape", lower=lower.lower_reshape),
    "dense": Op(
        doc="A fully connected layer on the last axis.",
        input_rank=None, fields={"units": Field(positive_int), "use_bias": USE_BIAS,
                                 "activation": ACTIVATION},
        infer=shapes.infer_dense, params=shapes.dense_params, sep_op="sep.dense",
        sep_operands=WEIGHTS, fuses_activation=True, folds_batch_norm=scale_filters,
        lower=lower.lower_dense, schedule_kinds=("matmul", "packed_matmul", "softmax"),
        flops=flops.dense),
}


@dataclass(frozen=True)
class SepOp:
    """A `sep` dialect op and the row(s) emitted as it (1-D and 2-D global pooling share)."""
    name: str
    row: Op
    model_ops: tuple[str, ...] = field(default=())


def _by_sep_op() -> dict[str, SepOp]:
    found: dict[str, SepOp] = {}
    for model_op, row in OPS.items():
        known = found.get(row.sep_op)
        if known is not None and known.row.lower is not row.lower:
            raise TypeError(f"op table: {model_op} and {known.model_ops} share {row.sep_op} "
                            "but not its lowering")
        found[row.sep_op] = SepOp(row.sep_op, known.row if known else row,
                                  (known.model_ops if known else ()) + (model_op,))
    return found


BY_SEP_OP: dict[str, SepOp] = _by_sep_op()


T = TypeVar("T")


def sep_ops_with(entry: Callable[[Op], T | None]) -> dict[str, T]:
    """The `sep` op names whose row has `entry` (not None), with its value: the names for
    walk_ops, the values to apply to the ops found."""
    return {name: value for name, sep in BY_SEP_OP.items()
            if (value := entry(sep.row)) is not None}


def check_table() -> None:
    """Every row is lowered, by a function or a named graph pass, and every schedule kind a
    lowering may tag has a schedule: a kind without one would leave the op a scalar loop."""
    from .schedules import SCHEDULES
    for name, row in OPS.items():
        if (row.lower is None) == (not row.lowered_by):
            raise TypeError(f"op table: {name} needs exactly one of lower and lowered_by")
        missing = [kind for kind in row.schedule_kinds if kind not in SCHEDULES]
        if missing:
            raise TypeError(f"op table: {name} lowers to schedule kind {missing[0]!r}, which "
                            "has no schedule in sepc.schedules.SCHEDULES")


check_table()
