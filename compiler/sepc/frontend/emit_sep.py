"""Emit a validated Graph as a module in the `sep` dialect.

One `sep` op per layer, parameters as `arith.constant` tensors, a function
`@sepc_NAME(inputs...) -> (outputs...)` on tensors. A layer without a bias gets a zero
bias constant: every conv-like op then has the same operands, which keeps the graph
passes and the lowering free of optional-operand cases (a zero splat costs nothing).
"""
from __future__ import annotations

import numpy as np
from mlir import ir
from mlir.dialects import func

from ..artifacts import entry_symbol
from ..passes.ir_util import tensor_constant
from .graph import Graph, Layer

# model.json op -> (sep op, parameter operands in order)
SEP_OPS = {
    "conv2d": ("sep.conv2d", ("kernel", "bias")),
    "conv1d": ("sep.conv1d", ("kernel", "bias")),
    "depthwise_conv2d": ("sep.depthwise_conv2d", ("depthwise_kernel", "bias")),
    "depthwise_conv1d": ("sep.depthwise_conv1d", ("depthwise_kernel", "bias")),
    "separable_conv2d": ("sep.separable_conv2d", ("depthwise_kernel", "pointwise_kernel", "bias")),
    "separable_conv1d": ("sep.separable_conv1d", ("depthwise_kernel", "pointwise_kernel", "bias")),
    "batch_norm": ("sep.batch_norm", ("gamma", "beta", "moving_mean", "moving_variance")),
    "activation": ("sep.activation", ()),
    "dense": ("sep.dense", ("kernel", "bias")),
    "add": ("sep.add", ()),
    "zero_padding2d": ("sep.zero_padding2d", ()),
    "max_pooling2d": ("sep.max_pool2d", ()),
    "average_pooling2d": ("sep.avg_pool2d", ()),
    "global_average_pooling2d": ("sep.global_avg_pool", ()),
    "global_average_pooling1d": ("sep.global_avg_pool", ()),
    "reshape": ("sep.reshape", ()),
}

OPS_WITHOUT_ACTIVATION = ("max_pooling2d", "average_pooling2d", "zero_padding2d",
                          "global_average_pooling2d", "global_average_pooling1d", "reshape")


def tensor_type(shape) -> ir.RankedTensorType:
    return ir.RankedTensorType.get(list(shape), ir.F32Type.get())


def i64_array(values) -> ir.Attribute:
    return ir.DenseI64ArrayAttr.get([int(v) for v in values])


def layer_attributes(layer: Layer) -> dict[str, ir.Attribute]:
    a = layer.attrs
    attrs: dict[str, ir.Attribute] = {}
    if "strides" in a:
        attrs["strides"] = i64_array(a["strides"])
    if "dilation_rate" in a:
        attrs["dilations"] = i64_array(a["dilation_rate"])
    if "pool_size" in a:
        attrs["pool_size"] = i64_array(a["pool_size"])
    if "padding" in a:
        attrs["padding"] = i64_array([p for pair in a["padding"] for p in pair])
    if layer.op not in OPS_WITHOUT_ACTIVATION:
        attrs["activation"] = ir.StringAttr.get(a.get("activation", "linear"))
    if layer.op == "batch_norm":
        attrs["epsilon"] = ir.FloatAttr.get_f64(float(a["epsilon"]))
    if layer.op.startswith("global_average_pooling"):
        attrs["keepdims"] = ir.BoolAttr.get(bool(a.get("keepdims", False)))
    return attrs


def parameter(layer: Layer, key: str, channels_out: int) -> np.ndarray:
    if key == "bias" and key not in layer.params:
        return np.zeros(channels_out, np.float32)
    return layer.params[key]


def emit_layer(layer: Layer, values: dict[str, ir.Value]) -> ir.Value:
    op_name, param_keys = SEP_OPS[layer.op]
    operands = [values[name] for name in layer.inputs]
    operands += [tensor_constant(parameter(layer, key, layer.out_shape[-1])) for key in param_keys]
    op = ir.Operation.create(op_name, results=[tensor_type(layer.out_shape)], operands=operands,
                             attributes=layer_attributes(layer),
                             loc=ir.Location.name(layer.name))
    return op.result


def emit_module(graph: Graph) -> ir.Module:
    """Build the `sep` module for graph; needs an active context with `sep` loaded."""
    with ir.Location.unknown():
        module = ir.Module.create()
        arg_types = [tensor_type(spec.shape) for spec in graph.inputs]
        result_types = [tensor_type(graph.shape_of(name)) for name in graph.outputs]
        with ir.InsertionPoint(module.body):
            fn = func.FuncOp(entry_symbol(graph.name), (arg_types, result_types))
            entry = fn.add_entry_block()
            with ir.InsertionPoint(entry):
                values = {spec.name: arg for spec, arg in zip(graph.inputs, entry.arguments)}
                for layer in graph.layers:
                    values[layer.name] = emit_layer(layer, values)
                func.ReturnOp([values[name] for name in graph.outputs])
    return module
