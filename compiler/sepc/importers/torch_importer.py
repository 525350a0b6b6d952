"""PyTorch (an nn.Module traced with torch.fx, NCHW) -> model.json: nn.Conv1d/2d (groups 1
or one per channel), BatchNorm, ReLU, ReLU6, Hardtanh(0, 6), Hardswish, Hardsigmoid, SiLU,
Sigmoid, Tanh, Softmax, Linear, Dropout, Identity, Flatten, ZeroPad2d, AdaptiveAvgPool(1),
MaxPool2d, AvgPool2d, and the functions and methods that spell the same (x + y,
torch.flatten, F.relu, .mean over the spatial dims, ...); x * y (broadcast (N, C, 1, 1)
factors: squeeze-excite), torch.cat along the channels, and numbers added, subtracted,
multiplied or divided (as rescaling). PyTorch's symmetric padding
becomes explicit padding.

converter_table() maps a module class, a function or a method name to the function that adds
the node to the model; a node without a row is reported as not supported. The tables are
functions because their keys are torch's own objects, and torch is imported only when a
PyTorch model is."""
from __future__ import annotations

import importlib
import operator
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, partial
from typing import Any

import numpy as np

from ..errors import UserError
from .builder import ModelBuilder, c_identifier
from .nchw import ChannelsFirst, nhwc


def load_callable(spec: str) -> Any:
    """`module:callable` -> (model, example input): the CLI's way to name a PyTorch model."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise UserError(f"{spec}: expected MODULE:CALLABLE returning (model, example_input)")
    try:
        with current_folder_on_path():
            made = getattr(importlib.import_module(module_name), attr)()
    except ImportError as e:
        raise UserError(f"{spec}: cannot import {module_name}: {e}") from None
    except AttributeError:
        raise UserError(f"{spec}: module {module_name} has no {attr}") from None
    if not (isinstance(made, tuple) and len(made) == 2):
        raise UserError(f"{spec}: {attr}() must return (model, example_input)")
    return made


@contextmanager
def current_folder_on_path() -> Iterator[None]:
    """The current folder first on the import path while a MODULE named on the command line
    is imported and called: `python -m` and scripts put it there, console scripts like
    `sepc` do not."""
    folder = os.getcwd()
    if folder in sys.path:
        yield
        return
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.path.remove(folder)


def _array(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _optional_array(t: Any) -> np.ndarray | None:
    return None if t is None else _array(t)


def _pairs(padding: Any, rank: int) -> list[list[int]]:
    padding = [padding] * rank if isinstance(padding, int) else list(padding)
    return [[int(p), int(p)] for p in padding]


def import_torch(model: Any, example_input: Any, name: str | None = None,
                 source: str = "torch module") -> ModelBuilder:
    try:
        import torch.fx
    except ImportError:
        raise UserError(f"{source}: importing PyTorch models needs torch: "
                        "pip install -e '.[torch]'") from None
    model = model.eval()
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as e:
        raise UserError(f"{source}: torch.fx cannot trace the module: "
                        f"{str(e).splitlines()[0]}") from None
    return import_graph_module(traced, example_input, name or type(model).__name__, source)


def import_graph_module(traced: Any, example_input: Any, name: str,
                        source: str = "torch module") -> ModelBuilder:
    """A module already traced with torch.fx (for one traced by a Tracer of your own, with
    other leaf modules or wrapped functions)."""
    import torch
    try:
        from torch.fx.passes.shape_prop import ShapeProp
        with torch.no_grad():
            ShapeProp(traced).propagate(example_input)
    except Exception:
        pass                  # shapes only help to report every problem at once
    b = ModelBuilder(c_identifier(name), source)
    cf = ChannelsFirst(b)
    modules = dict(traced.named_modules())
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            b.add_input(node.name, nhwc(list(example_input.shape)))
        elif node.op == "output":
            out = node.args[0]
            b.outputs = [o.name for o in (out if isinstance(out, (tuple, list)) else [out])]
        else:
            convert(Node(cf, node, modules))
            # Every node's output stands in for it, rejected or not: the nodes after it are checked.
            meta = node.meta.get("tensor_meta")
            if meta is not None and hasattr(meta, "shape"):
                b.stand_in(node.name, nhwc(list(meta.shape)))
    return b


# What a problem says of a node without a row, by the kind of node; other kinds (get_attr)
# are not converted at all.
UNSUPPORTED = {"call_module": "this module type is not supported",
               "call_function": "this function is not supported",
               "call_method": "this method is not supported"}


class Node:
    """A torch.fx node, as its converter sees it: `args` with nodes as their names, `data`
    the args that are imported values, `x` the first of them ("" if none), `key` its row in
    the tables (the module's class, the function, the method's name)."""

    def __init__(self, cf: ChannelsFirst, node: Any, modules: dict[str, Any]):
        import torch.fx
        self.cf = cf
        self.b = cf.b
        self.node = node
        self.label: str = node.name
        def named(a: Any) -> Any:    # nodes as their names, also inside lists (torch.cat)
            if isinstance(a, (list, tuple)):
                return type(a)(named(v) for v in a)
            return a.name if isinstance(a, torch.fx.Node) else a

        def names(a: Any) -> list[str]:
            if isinstance(a, (list, tuple)):
                return [n for v in a for n in names(v)]
            return [a.name] if isinstance(a, torch.fx.Node) else []

        self.args: list[Any] = [named(a) for a in node.args]
        self.kwargs: dict[str, Any] = {k: named(v) for k, v in node.kwargs.items()}
        self.data: list[str] = [a for a in names(list(node.args)) if self.b.known(a)]
        self.x: str = self.data[0] if self.data else ""
        self.module: Any = modules[node.target] if node.op == "call_module" else None
        self.key, self.kind = self._key_and_kind()

    def _key_and_kind(self) -> tuple[Any, str]:
        target = self.node.target
        if self.module is not None:
            return module_key(type(self.module)), type(self.module).__name__
        if self.node.op == "call_method":
            return target, f".{target}"
        return target, getattr(target, "__name__", str(target))

    def problem(self, reason: str) -> None:
        self.b.problem(self.label, self.kind, reason)

    def unsupported(self) -> None:
        """What a node without a row gets: also what a row says of arguments it cannot take."""
        self.problem(UNSUPPORTED[self.node.op])


Converter = Callable[[Node], None]


def module_key(cls: type) -> type:
    """A module class's row: its own, else its nearest base class's, as isinstance would
    match, except an activation's (torch's quantized ReLU6 is a subclass of nn.ReLU)."""
    rows, activations = converter_table(), activation_table()
    if cls in rows:
        return cls
    return next((c for c in cls.__mro__ if c in rows and c not in activations), cls)


def convert(n: Node) -> None:
    b = n.b
    if n.node.op not in UNSUPPORTED:
        b.problem(n.label, n.node.op, "not supported")
    elif not n.x:
        if not b.problems:   # a missing input is a consequence of an earlier problem
            b.problem(n.label, str(n.node.target), "its input could not be imported")
    elif n.key not in converter_table():
        n.unsupported()
    else:
        converter_table()[n.key](n)


@cache
def activation_table() -> dict[Any, str]:
    """Module class, function or method name -> the model.json activation it is."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    return {
        nn.ReLU: "relu", F.relu: "relu", torch.relu: "relu", "relu": "relu",
        nn.ReLU6: "relu6", F.relu6: "relu6",
        nn.Hardswish: "hard_swish", F.hardswish: "hard_swish",
        nn.Sigmoid: "sigmoid", torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", "sigmoid": "sigmoid",
        nn.Tanh: "tanh", torch.tanh: "tanh", F.tanh: "tanh", "tanh": "tanh",
        nn.Hardsigmoid: "hard_sigmoid", F.hardsigmoid: "hard_sigmoid",
        nn.SiLU: "swish", F.silu: "swish",
    }


def activation(n: Node) -> None:
    n.cf.activation(n.label, n.x, activation_table()[n.key])


def conv(rank: int, n: Node) -> None:
    m = n.module
    if m.padding_mode != "zeros":
        n.problem(f"padding_mode {m.padding_mode!r} (only 'zeros')")
        return
    n.cf.conv(n.label, n.x, _array(m.weight), _optional_array(m.bias), list(m.stride),
              conv_pads(m.padding, list(m.kernel_size), list(m.dilation), rank),
              list(m.dilation), m.groups, n.kind)


def conv_pads(padding: Any, kernel: list[int], dilation: list[int], rank: int) -> list[list[int]]:
    """[[before, after]] per spatial dim. 'same' (stride 1 only, torch checks) pads
    dilation x (kernel - 1) in all, the odd one after, as torch does."""
    if padding == "valid":
        return [[0, 0]] * rank
    if padding == "same":
        return [[t // 2, t - t // 2] for t in (d * (k - 1) for d, k in zip(dilation, kernel,
                                                                          strict=True))]
    return _pairs(padding, rank)


def batch_norm(n: Node) -> None:
    m = n.module
    if not m.track_running_stats:
        n.problem("no running statistics")
        return
    c = m.num_features
    scale = _array(m.weight) if m.affine else np.ones(c, np.float32)
    offset = _array(m.bias) if m.affine else np.zeros(c, np.float32)
    n.cf.batch_norm(n.label, n.x, scale, offset, _array(m.running_mean), _array(m.running_var),
                    m.eps)


def hardtanh(n: Node) -> None:
    if (n.module.min_val, n.module.max_val) != (0.0, 6.0):
        n.unsupported()
        return
    n.cf.activation(n.label, n.x, "relu6")


def softmax(n: Node) -> None:
    if n.module.dim not in (-1, 1) or len(n.b.shape(n.x)) != 2:
        n.unsupported()
        return
    n.cf.activation(n.label, n.x, "softmax")


def linear(n: Node) -> None:
    n.cf.dense(n.label, n.x, _array(n.module.weight).T, _optional_array(n.module.bias))


def identity(n: Node) -> None:
    n.b.alias(n.label, n.x)


def flatten_module(n: Node) -> None:
    if (n.module.start_dim, n.module.end_dim) != (1, -1):
        n.unsupported()
        return
    n.cf.flatten(n.label, n.x, n.kind)


def flatten(n: Node) -> None:
    """torch.flatten(x, 1) and x.flatten(1)."""
    if n.args[1:] not in ([1], [1, -1]):
        n.unsupported()
        return
    n.cf.flatten(n.label, n.x, n.kind)


def adaptive_avg_pool_module(n: Node) -> None:
    if not all(s == 1 for s in np.atleast_1d(n.module.output_size)):
        n.unsupported()
        return
    n.cf.global_average_pool(n.label, n.x, keepdims=True)


def adaptive_avg_pool(n: Node) -> None:
    if n.args[1:] not in ([1], [(1, 1)]):
        n.unsupported()
        return
    n.cf.global_average_pool(n.label, n.x, keepdims=True)


def mean(n: Node) -> None:
    """x.mean(dims) and torch.mean(x, dims) over exactly the spatial dims (any order,
    negative or not), keepdim or not."""
    rank = len(n.b.shape(n.x))
    dims = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else None)
    keepdim = n.kwargs.get("keepdim", n.args[2] if len(n.args) > 2 else False)
    dims = [dims] if isinstance(dims, int) else dims
    if (not isinstance(dims, (list, tuple)) or not all(isinstance(d, int) for d in dims)
            or sorted(d % rank for d in dims) != list(range(2, rank)) or rank < 3
            or not isinstance(keepdim, bool) or n.kwargs.get("dtype") is not None):
        n.unsupported()
        return
    n.cf.global_average_pool(n.label, n.x, keepdims=keepdim)


def numbers(n: Node) -> tuple[float, bool] | None:
    """A `tensor OP number` call's number, and whether it comes first; None if the call
    is not one tensor and one number."""
    if len(n.args) != 2 or n.kwargs or len(n.data) != 1:
        return None
    first, second = n.args
    number, number_first = (first, True) if first != n.x else (second, False)
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    return float(number), number_first


def mul(n: Node) -> None:
    """x * y (torch.mul, x.mul): tensors as multiply (x * sigmoid(x) stays swish), a
    number as rescaling."""
    if len(n.data) == 2 and len(n.args) == 2 and not n.kwargs:
        n.cf.multiply(n.label, n.data, n.kind)
    elif (found := numbers(n)) is not None:
        n.cf.rescale(n.label, n.x, found[0], 0.0)
    else:
        n.unsupported()


def truediv(n: Node) -> None:
    """x / c for a nonzero number c."""
    found = numbers(n)
    if found is None or found[1] or found[0] == 0.0:
        n.unsupported()
        return
    n.cf.rescale(n.label, n.x, 1.0 / found[0], 0.0)


def sub(n: Node) -> None:
    """x - c and c - x for a number c."""
    found = numbers(n)
    if found is None:
        n.unsupported()
        return
    number, number_first = found
    n.cf.rescale(n.label, n.x, -1.0 if number_first else 1.0,
                 number if number_first else -number)


def cat(n: Node) -> None:
    """torch.cat(tensors, dim) along the channels."""
    tensors = n.args[0] if n.args else n.kwargs.get("tensors")
    dim = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else 0)
    if (not isinstance(tensors, (list, tuple)) or len(tensors) < 2 or not isinstance(dim, int)
            or not all(isinstance(t, str) and n.b.known(t) for t in tensors)):
        n.unsupported()
        return
    n.cf.concatenate(n.label, list(tensors), dim, n.kind)


def zero_pad(n: Node) -> None:
    left, right, top, bottom = n.module.padding
    n.cf.zero_pad(n.label, n.x, [[top, bottom], [left, right]], n.kind)


def pool(op: str, n: Node) -> None:
    m = n.module
    kernel = [p[0] for p in _pairs(m.kernel_size, 2)]
    strides = [p[0] for p in _pairs(m.stride, 2)]
    n.cf.pool(n.label, n.x, op, kernel, strides, _pairs(m.padding, 2), n.kind)


def add(n: Node) -> None:
    """x + y, torch.add(x, y) and x.add(y) of two tensors; x + c of a number."""
    if len(n.data) == 2:
        n.cf.add(n.label, n.data, n.kind)
    elif (found := numbers(n)) is not None:
        n.cf.rescale(n.label, n.x, 1.0, found[0])
    else:
        n.unsupported()


@cache
def converter_table() -> dict[Any, Converter]:
    """Module class, function or method name -> its converter."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    return {
        **dict.fromkeys(activation_table(), activation),
        nn.Conv1d: partial(conv, 1),
        nn.Conv2d: partial(conv, 2),
        nn.BatchNorm1d: batch_norm,
        nn.BatchNorm2d: batch_norm,
        nn.Hardtanh: hardtanh,
        nn.Softmax: softmax,
        nn.Linear: linear,
        nn.Dropout: identity,
        nn.Identity: identity,
        F.dropout: identity,
        nn.Flatten: flatten_module,
        torch.flatten: flatten,
        "flatten": flatten,
        nn.AdaptiveAvgPool1d: adaptive_avg_pool_module,
        nn.AdaptiveAvgPool2d: adaptive_avg_pool_module,
        F.adaptive_avg_pool2d: adaptive_avg_pool,
        "mean": mean,
        nn.ZeroPad2d: zero_pad,
        nn.MaxPool2d: partial(pool, "max_pooling2d"),
        nn.AvgPool2d: partial(pool, "average_pooling2d"),
        operator.add: add,
        torch.add: add,
        "add": add,
        operator.mul: mul,
        torch.mul: mul,
        "mul": mul,
        operator.truediv: truediv,
        operator.sub: sub,
        torch.mean: mean,
        torch.cat: cat,
        torch.concat: cat,
        nn.Dropout1d: identity,
        nn.Dropout2d: identity,
    }
