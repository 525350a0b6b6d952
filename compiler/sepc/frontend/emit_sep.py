"""Emit a validated Graph as a module in the `sep` dialect.

One `sep` op per layer (its op table row names it and its parameter operands), parameters
as `arith.constant` tensors, a function `@sepc_NAME(inputs...) -> (outputs...)` on tensors.
A layer without a bias gets a zero bias constant: every conv-like op then has the same
operands, which keeps the graph passes and the lowering free of optional-operand cases (a
zero splat costs nothing).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from mlir import ir
from mlir.dialects import func

from ..artifacts import entry_symbol
from ..ops import MAX_INPUTS, OPS
from ..passes.ir_util import tensor_constant
from .graph import Graph, Layer


def tensor_type(shape: Sequence[int]) -> ir.RankedTensorType:
    return ir.RankedTensorType.get(list(shape), ir.F32Type.get())


def i64_array(values: Sequence[int]) -> ir.Attribute:
    return ir.DenseI64ArrayAttr.get([int(v) for v in values])


# model.json field -> (`sep` attribute, its IRDL base, how a normalised value becomes it).
# A row's attributes are its fields found here (dialects/ builds the IRDL from the same).
SEP_ATTRIBUTES: dict[str, tuple[str, str, Callable[[Any], ir.Attribute]]] = {
    "strides": ("strides", "#builtin.dense_array", i64_array),
    "dilation_rate": ("dilations", "#builtin.dense_array", i64_array),
    "pool_size": ("pool_size", "#builtin.dense_array", i64_array),
    "padding": ("padding", "#builtin.dense_array",
                lambda pairs: i64_array([p for pair in pairs for p in pair])),
    "activation": ("activation", "#builtin.string", ir.StringAttr.get),
    "epsilon": ("epsilon", "#builtin.float", lambda v: ir.FloatAttr.get_f64(float(v))),
    "keepdims": ("keepdims", "#builtin.integer", lambda v: ir.BoolAttr.get(bool(v))),
    "scale": ("scale", "#builtin.dense_array", lambda v: ir.DenseF64ArrayAttr.get(list(v))),
    "offset": ("offset", "#builtin.dense_array", lambda v: ir.DenseF64ArrayAttr.get(list(v))),
    "cropping": ("cropping", "#builtin.dense_array",
                 lambda pairs: i64_array([p for pair in pairs for p in pair])),
}


def layer_attributes(layer: Layer) -> dict[str, ir.Attribute]:
    return {SEP_ATTRIBUTES[name][0]: SEP_ATTRIBUTES[name][2](layer.attrs[name])
            for name in OPS[layer.op].fields if name in SEP_ATTRIBUTES}


def parameter(layer: Layer, key: str, channels_out: int) -> np.ndarray:
    if key == "bias" and key not in layer.params:
        return np.zeros(channels_out, np.float32)
    return layer.params[key]


def emit_layer(layer: Layer, values: dict[str, ir.Value]) -> ir.Value:
    row = OPS[layer.op]
    operands = [values[name] for name in layer.inputs]
    operands += [tensor_constant(parameter(layer, key, layer.out_shape[-1]))
                 for key in row.sep_operands]
    attributes = layer_attributes(layer)
    if not row.inputs_alike:    # operand groups of their own, the unused ones empty
        unused = MAX_INPUTS - len(layer.inputs)
        attributes["operandSegmentSizes"] = ir.DenseI32ArrayAttr.get(
            [1] * len(layer.inputs) + [0] * unused + [1] * len(row.sep_operands))
    op = ir.Operation.create(row.sep_op, results=[tensor_type(layer.out_shape)], operands=operands,
                             attributes=attributes,
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
                values = {spec.name: arg
                          for spec, arg in zip(graph.inputs, entry.arguments, strict=True)}
                for layer in graph.layers:
                    values[layer.name] = emit_layer(layer, values)
                func.ReturnOp([values[name] for name in graph.outputs])
    return module
