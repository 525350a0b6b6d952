"""ONNX (.onnx files, NCHW) -> model.json: Conv (grouped per channel = depthwise, 1x1),
BatchNormalization, Relu, Clip(0, 6), HardSwish, Sigmoid, Tanh, Softmax, Add,
GlobalAveragePool, Gemm, MatMul, Flatten, Reshape (to (N, -1)), Pad, MaxPool, AveragePool,
Dropout and Identity."""
from __future__ import annotations

import os

import numpy as np

from ..errors import UserError
from .builder import ModelBuilder, c_identifier
from .nchw import ChannelsFirst, nhwc


def load(path: str):
    try:
        import onnx
    except ImportError:
        raise UserError(f"{path}: importing ONNX models needs onnx: pip install -e '.[onnx]'") from None
    if not os.path.exists(path):
        raise UserError(f"{path}: file does not exist, expected an .onnx file")
    try:
        return onnx.load(path)
    except Exception as e:
        raise UserError(f"{path}: not a readable ONNX model: {str(e).splitlines()[0]}") from None


def import_onnx(path: str) -> ModelBuilder:
    import onnx
    from onnx import helper, numpy_helper

    model = load(path)
    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:
        pass                  # shapes only help to report every problem at once
    graph = model.graph
    known_shapes = {v.name: [d.dim_value if d.HasField("dim_value") else 1
                             for d in v.type.tensor_type.shape.dim]
                    for v in list(graph.value_info) + list(graph.output)}
    # Exporters name graphs generically ("main_graph", "torch_jit"): the file names the model.
    b = ModelBuilder(c_identifier(os.path.splitext(os.path.basename(path))[0]), path)
    cf = ChannelsFirst(b)
    constants = {t.name: numpy_helper.to_array(t).astype(np.float32, copy=False)
                 if t.data_type == onnx.TensorProto.FLOAT else numpy_helper.to_array(t)
                 for t in graph.initializer}
    for value in graph.input:
        if value.name in constants:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else 1
                for d in value.type.tensor_type.shape.dim]
        b.add_input(value.name, nhwc(dims))

    for index, node in enumerate(graph.node):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        name = node.name or f"{node.op_type}_{index}"
        out = node.output[0] if node.output else name
        data = [i for i in node.input if i and i not in constants]
        const = [constants.get(i) for i in node.input]
        op = node.op_type
        if op == "Constant":
            constants[out] = numpy_helper.to_array(attrs["value"])
            continue
        # Every node's outputs stand in for it, rejected or not: the nodes after it are checked.
        try:
            if not all(b.known(d) for d in data):
                if not b.problems:
                    b.problem(name, op, "its input could not be imported")
                continue
            x = data[0] if data else None
            spatial = len(b.shape(x)) - 2 if x else 0
            if op == "Conv":
                pads = attrs.get("pads", [0] * 2 * spatial)
                if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                    b.problem(name, op, f"auto_pad {attrs['auto_pad']!r} (only explicit pads)")
                    continue
                cf.conv(out, x, const[1], const[2] if len(const) > 2 else None,
                        attrs.get("strides", [1] * spatial),
                        [[pads[d], pads[d + spatial]] for d in range(spatial)],
                        attrs.get("dilations", [1] * spatial), attrs.get("group", 1), op)
            elif op == "BatchNormalization":
                cf.batch_norm(out, x, *const[1:5], attrs.get("epsilon", 1e-5))
            elif op == "Relu":
                cf.activation(out, x, "relu")
            elif op == "Clip":
                low = attrs.get("min", const[1] if len(const) > 1 else None)
                high = attrs.get("max", const[2] if len(const) > 2 else None)
                low = None if low is None else float(np.asarray(low))
                high = None if high is None else float(np.asarray(high))
                if low == 0.0 and high == 6.0:
                    cf.activation(out, x, "relu6")
                elif low == 0.0 and high is None:
                    cf.activation(out, x, "relu")
                else:
                    b.problem(name, op, f"Clip({low}, {high}) (only (0, 6) and (0, none))")
            elif op in ("HardSwish", "Sigmoid", "Tanh"):
                cf.activation(out, x, {"HardSwish": "hard_swish", "Sigmoid": "sigmoid", "Tanh": "tanh"}[op])
            elif op == "Softmax":
                axis = attrs.get("axis", -1)
                if axis not in (-1, len(b.shape(x)) - 1) or len(b.shape(x)) != 2:
                    b.problem(name, op, f"axis {axis} of a rank-{len(b.shape(x))} tensor "
                                        "(only the last axis of (N, C))")
                    continue
                cf.activation(out, x, "softmax")
            elif op == "Add":
                if len(data) != 2:
                    b.problem(name, op, "adds a constant (only tensor + tensor)")
                    continue
                cf.add(out, data, op)
            elif op == "GlobalAveragePool":
                cf.global_average_pool(out, x, keepdims=True)
            elif op in ("Flatten", "Reshape"):
                if op == "Flatten" and attrs.get("axis", 1) != 1:
                    b.problem(name, op, f"axis {attrs['axis']} (only 1)")
                    continue
                if op == "Reshape":
                    target = [int(v) for v in np.asarray(const[1]).ravel()]
                    if len(target) != 2 or target[1] not in (-1, b.shape(x)[-1]):
                        b.problem(name, op, f"to {target} (only to (N, -1))")
                        continue
                cf.flatten(out, x, op)
            elif op == "Gemm":
                weight = const[1]
                if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
                    b.problem(name, op, "transA, alpha and beta must be 0, 1 and 1")
                    continue
                cf.dense(out, x, weight.T if attrs.get("transB", 0) else weight,
                         const[2] if len(const) > 2 else None)
            elif op == "MatMul" and const[1] is not None:
                cf.dense(out, x, const[1], None)
            elif op == "Pad":
                pads = attrs.get("pads", None if len(const) < 2 else const[1])
                mode = attrs.get("mode", b"constant")
                value = const[2] if len(const) > 2 and const[2] is not None else 0.0
                pads = [int(p) for p in np.asarray(pads).ravel()]
                rank = len(pads) // 2
                if mode not in (b"constant", "constant") or float(np.asarray(value)) != 0.0 or rank != 4 \
                        or pads[0] or pads[1] or pads[rank] or pads[rank + 1]:
                    b.problem(name, op, "only zero padding of H and W")
                    continue
                cf.zero_pad(out, x, [[pads[2], pads[2 + rank]], [pads[3], pads[3 + rank]]], op)
            elif op in ("MaxPool", "AveragePool"):
                kernel = attrs["kernel_shape"]
                pads = attrs.get("pads", [0] * 4)
                cf.pool(out, x, "max_pooling2d" if op == "MaxPool" else "average_pooling2d", kernel,
                        attrs.get("strides", [1, 1]), [[pads[0], pads[2]], [pads[1], pads[3]]], op)
            elif op in ("Dropout", "Identity"):
                b.alias(out, x)
            else:
                b.problem(name, op, "this operator is not supported")
        finally:
            for produced in node.output:
                if produced in known_shapes:
                    b.stand_in(produced, nhwc(known_shapes[produced]))
    b.outputs = [o.name for o in graph.output]
    return b
