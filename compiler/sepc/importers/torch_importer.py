"""PyTorch (an nn.Module traced with torch.fx, NCHW) -> model.json: nn.Conv1d/2d (groups 1
or one per channel), BatchNorm, ReLU, ReLU6, Hardtanh(0, 6), Hardswish, Sigmoid, Tanh,
Softmax, Linear, Dropout, Identity, Flatten, ZeroPad2d, AdaptiveAvgPool(1), MaxPool2d,
AvgPool2d, and the functions and methods that spell the same (x + y, torch.flatten, F.relu,
.mean over the spatial dims, ...). PyTorch's symmetric padding becomes explicit padding."""
from __future__ import annotations

import importlib
import operator

import numpy as np

from ..errors import UserError
from .builder import ModelBuilder, c_identifier
from .nchw import ChannelsFirst, nhwc


def load_callable(spec: str):
    """`module:callable` -> (model, example input): the CLI's way to name a PyTorch model."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise UserError(f"{spec}: expected MODULE:CALLABLE returning (model, example_input)")
    try:
        made = getattr(importlib.import_module(module_name), attr)()
    except ImportError as e:
        raise UserError(f"{spec}: cannot import {module_name}: {e}") from None
    except AttributeError:
        raise UserError(f"{spec}: module {module_name} has no {attr}") from None
    if not (isinstance(made, tuple) and len(made) == 2):
        raise UserError(f"{spec}: {attr}() must return (model, example_input)")
    return made


def _array(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _pairs(padding, rank):
    padding = [padding] * rank if isinstance(padding, int) else list(padding)
    return [[int(p), int(p)] for p in padding]


def import_torch(model, example_input, name: str | None = None, source: str = "torch module") -> ModelBuilder:
    try:
        import torch
        import torch.fx
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError:
        raise UserError(f"{source}: importing PyTorch models needs torch: pip install -e '.[torch]'") from None
    model = model.eval()
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as e:
        raise UserError(f"{source}: torch.fx cannot trace the module: {str(e).splitlines()[0]}") from None
    try:
        from torch.fx.passes.shape_prop import ShapeProp
        with torch.no_grad():
            ShapeProp(traced).propagate(example_input)
    except Exception:
        pass                  # shapes only help to report every problem at once
    b = ModelBuilder(c_identifier(name or type(model).__name__), source)
    cf = ChannelsFirst(b)
    modules = dict(traced.named_modules())
    activations = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hard_swish",
                   nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
    functions = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6", F.hardswish: "hard_swish",
                 torch.sigmoid: "sigmoid", torch.tanh: "tanh", F.sigmoid: "sigmoid", F.tanh: "tanh"}
    for node in traced.graph.nodes:
        label = node.name
        args = [a.name if isinstance(a, torch.fx.Node) else a for a in node.args]
        data = [a for a in args if isinstance(a, str) and b.known(a)]
        x = data[0] if data else None
        if node.op == "placeholder":
            b.add_input(label, nhwc(list(example_input.shape)))
            continue
        if node.op == "output":
            out = node.args[0]
            outs = out if isinstance(out, (tuple, list)) else [out]
            b.outputs = [o.name for o in outs]
            continue
        # Every node's output stands in for it, rejected or not: the nodes after it are checked.
        try:
            if node.op in ("call_module", "call_function", "call_method") and x is None:
                if not b.problems:
                    b.problem(label, str(node.target), "its input could not be imported")
                continue
            if node.op == "call_module":
                m = modules[node.target]
                kind = type(m).__name__
                if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                    rank = 2 if isinstance(m, nn.Conv2d) else 1
                    if isinstance(m.padding, str) or m.padding_mode != "zeros":
                        b.problem(label, kind, f"padding {m.padding!r}/{m.padding_mode} (only numbers, zeros)")
                        continue
                    cf.conv(label, x, _array(m.weight), None if m.bias is None else _array(m.bias),
                            list(m.stride), _pairs(m.padding, rank), list(m.dilation), m.groups, kind)
                elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    if not m.track_running_stats:
                        b.problem(label, kind, "no running statistics")
                        continue
                    c = m.num_features
                    scale = _array(m.weight) if m.affine else np.ones(c, np.float32)
                    offset = _array(m.bias) if m.affine else np.zeros(c, np.float32)
                    cf.batch_norm(label, x, scale, offset, _array(m.running_mean),
                                  _array(m.running_var), m.eps)
                elif type(m) in activations:
                    cf.activation(label, x, activations[type(m)])
                elif isinstance(m, nn.Hardtanh) and (m.min_val, m.max_val) == (0.0, 6.0):
                    cf.activation(label, x, "relu6")
                elif isinstance(m, nn.Softmax) and m.dim in (-1, 1) and len(b.shape(x)) == 2:
                    cf.activation(label, x, "softmax")
                elif isinstance(m, nn.Linear):
                    cf.dense(label, x, _array(m.weight).T, None if m.bias is None else _array(m.bias))
                elif isinstance(m, (nn.Dropout, nn.Identity)):
                    b.alias(label, x)
                elif isinstance(m, nn.Flatten) and m.start_dim == 1 and m.end_dim == -1:
                    cf.flatten(label, x, kind)
                elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool1d)) and \
                        all(s == 1 for s in np.atleast_1d(m.output_size)):
                    cf.global_average_pool(label, x, keepdims=True)
                elif isinstance(m, nn.ZeroPad2d):
                    left, right, top, bottom = m.padding
                    cf.zero_pad(label, x, [[top, bottom], [left, right]], kind)
                elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
                    k = _pairs(m.kernel_size, 2)
                    s = _pairs(m.stride, 2)
                    cf.pool(label, x, "max_pooling2d" if isinstance(m, nn.MaxPool2d) else "average_pooling2d",
                            [p[0] for p in k], [p[0] for p in s], _pairs(m.padding, 2), kind)
                else:
                    b.problem(label, kind, "this module type is not supported")
            elif node.op == "call_function":
                fn = node.target
                kind = getattr(fn, "__name__", str(fn))
                if fn in (operator.add, torch.add) and len(data) == 2:
                    cf.add(label, data, kind)
                elif fn in functions:
                    cf.activation(label, x, functions[fn])
                elif fn is torch.flatten and args[1:] in ([1], [1, -1]):
                    cf.flatten(label, x, kind)
                elif fn is F.adaptive_avg_pool2d and args[1:] in ([1], [(1, 1)]):
                    cf.global_average_pool(label, x, keepdims=True)
                elif fn is F.dropout:
                    b.alias(label, x)
                else:
                    b.problem(label, kind, "this function is not supported")
            elif node.op == "call_method":
                method = node.target
                if method in ("relu", "sigmoid", "tanh"):
                    cf.activation(label, x, method)
                elif method == "flatten" and args[1:] in ([1], [1, -1]):
                    cf.flatten(label, x, f".{method}")
                elif method == "mean" and args[1:] in ([[2, 3]], [(2, 3)]) \
                        and not node.kwargs.get("keepdim", False):
                    cf.global_average_pool(label, x, keepdims=False)
                elif method == "add" and len(data) == 2:
                    cf.add(label, data, ".add")
                else:
                    b.problem(label, f".{method}", "this method is not supported")
            else:
                b.problem(label, node.op, "not supported")
        finally:
            meta = node.meta.get("tensor_meta")
            if meta is not None and hasattr(meta, "shape"):
                b.stand_in(label, nhwc(list(meta.shape)))
    return b
