"""The network's kernels as the tuner sees them.

For each kernel with decisions to tune: the cost model's decisions (the network's default
strategy, what `--emit strategy` prints), the model.json layers it computes, a model.json
of that kernel alone (its layers, its inputs at their inferred shapes) and the signature
under which identical kernels are tuned once.

Which layers make a kernel is read off the compiler itself rather than re-derived: the
layers that are still ops after the graph passes (`sep` stage) are the survivors, every
other layer was folded or fused into the survivor that computes its input (a batch norm,
an activation), and a fused separable kernel also computes the depthwise conv feeding its
1x1 conv. Whether the small model really reproduces the kernel is checked, not assumed
(`reproduces`): its kernel must have the network kernel's shapes and default decisions.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from mlir import ir

from ..dialects import make_context
from ..driver import lower
from ..frontend.graph import Graph, Layer
from ..frontend.model_json import load_model
from ..passes.ir_util import walk_ops
from ..schedules import SCHEDULES, Kernel, find_kernels
from ..schedules.strategy import Value, find_strategies
from ..targets import Target

# The sub-model's name: a C identifier, which names its entry symbol.
SUB_MODEL_NAME = "tuned_kernel"


@dataclass(frozen=True)
class NetworkKernel:
    """One kernel of the network: the schedules' view of it and the cost model's choice."""
    kernel: Kernel
    decisions: dict[str, Value]

    @property
    def layer(self) -> str:
        return self.kernel.layer

    @property
    def kind(self) -> str:
        return self.kernel.kind


@dataclass
class KernelGroup:
    """Kernels of one signature, tuned once: the first stands for all of them."""
    signature: str
    kernels: list[NetworkKernel]
    model: dict[str, Any]          # model.json of the first kernel alone

    @property
    def first(self) -> NetworkKernel:
        return self.kernels[0]

    @property
    def layers(self) -> list[str]:
        return [k.layer for k in self.kernels]


@dataclass
class Network:
    graph: Graph
    document: dict[str, Any]       # the model.json as written (its layers are copied)
    kernels: list[NetworkKernel]
    survivors: set[str] = field(default_factory=set)   # layers still ops after graph passes


def tunable(kind: str) -> bool:
    """Kinds with a loop nest of their own and decisions a strategy file may fix."""
    return SCHEDULES[kind].tiled and bool(SCHEDULES[kind].decisions)


def decisions_of(kind: str, values: Any) -> dict[str, Value]:
    return {d.name: values[d.name] for d in SCHEDULES[kind].decisions}


def scheduled_kernels(graph: Graph, target: Target) -> list[NetworkKernel]:
    """Every tunable kernel with the cost model's decisions, from the strategy stage."""
    with make_context(), ir.Location.unknown():
        c = lower(graph, target, "strategy", "auto")
        strategies = {s.layer: s for s in find_strategies(c.module.operation)}
        return [NetworkKernel(k, decisions_of(k.kind, strategies[k.layer]))
                for k, _ in find_kernels(c.module.operation)
                if tunable(k.kind) and k.layer in strategies]


def surviving_layers(graph: Graph, target: Target) -> set[str]:
    """Layers that are still ops of their own after the graph passes (their NameLoc)."""
    with make_context(), ir.Location.unknown():
        c = lower(graph, target, "sep", "auto")
        return {op.location.name_str for op in walk_ops(c.module.operation)
                if op.location.is_a_name()}


def read_network(model_path: str, target: Target, seed: int | None) -> Network:
    graph = load_model(model_path, seed)
    with open(model_path, encoding="utf-8") as f:
        document = json.load(f)        # valid: load_model read it
    return Network(graph, document, scheduled_kernels(graph, target),
                   surviving_layers(graph, target))


# --- the layers of a kernel ---------------------------------------------------------------

def base_layer(kernel_layer: str, layers: dict[str, Layer]) -> str:
    """The model.json layer a kernel is named after: split-separable names the halves of
    a separable conv `NAME/depthwise` and `NAME/pointwise`, a dense softmax `NAME/softmax`."""
    if kernel_layer in layers:
        return kernel_layer
    return kernel_layer.rsplit("/", 1)[0]


def owner(value: str, layers: dict[str, Layer], survivors: set[str]) -> str | None:
    """The surviving layer that computes `value` (a folded layer's producer, transitively);
    None for a model input."""
    while value in layers and value not in survivors:
        value = layers[value].inputs[0]
    return value if value in layers else None


def absorbed(net: Network, layers: dict[str, Layer]) -> dict[str, list[str]]:
    """Survivor -> the layers folded or fused into it."""
    found: dict[str, list[str]] = {}
    for layer in net.graph.layers:
        if layer.name not in net.survivors:
            head = owner(layer.name, layers, net.survivors)
            if head is not None:
                found.setdefault(head, []).append(layer.name)
    return found


def heads(nk: NetworkKernel, layers: dict[str, Layer], survivors: set[str]) -> list[str]:
    """The surviving layers a kernel computes: its own, and for a fused separable kernel
    made of two layers the depthwise conv that feeds its 1x1 conv."""
    base = base_layer(nk.layer, layers)
    found = [base]
    if nk.kind.startswith("separable") and layers[base].op.startswith("conv"):
        dw = owner(layers[base].inputs[0], layers, survivors)
        if dw is not None:
            found.append(dw)
    return found


def kernel_members(net: Network) -> dict[str, list[str]]:
    """Kernel layer -> the model.json layers it computes, in model order. Survivors with
    no kernel of their own (a zero padding a conv reads through) go with the kernel that
    alone consumes them."""
    layers = {layer.name: layer for layer in net.graph.layers}
    folded = absorbed(net, layers)
    own = {nk.layer: heads(nk, layers, net.survivors) for nk in net.kernels}
    with_kernel = {h for hs in own.values() for h in hs} | {k.layer for k in net.kernels}
    members = {}
    for nk in net.kernels:
        names = set(own[nk.layer])
        names |= feeders(names, layers, net, with_kernel)
        names |= {v for h in list(names) for v in folded.get(h, [])}
        members[nk.layer] = [layer.name for layer in net.graph.layers if layer.name in names]
    return members


def feeds_only(net: Network, value: str, names: set[str]) -> bool:
    """Whether every reader of `value` is one of `names` (a model output is read outside)."""
    return value not in net.graph.outputs and all(
        layer.name in names for layer in net.graph.layers if value in layer.inputs)


def feeders(names: set[str], layers: dict[str, Layer], net: Network,
            with_kernel: set[str]) -> set[str]:
    """Surviving layers without a kernel whose only consumers are `names`, transitively."""
    found: set[str] = set()
    frontier = list(names)
    while frontier:
        for value in layers[frontier.pop()].inputs:
            producer = owner(value, layers, net.survivors)
            if (producer is None or producer in with_kernel or producer in names | found
                    or not feeds_only(net, producer, names | found)):
                continue
            found.add(producer)
            frontier.append(producer)
    return found


# --- the sub-model ------------------------------------------------------------------------

def sub_model(net: Network, members: list[str]) -> dict[str, Any]:
    """model.json of the member layers alone: each value they read from outside becomes an
    input of its inferred shape, the last member the output. No weights: random ones are
    as fast as real ones."""
    written = {layer["name"]: layer for layer in net.document["layers"]}
    layers = {layer.name: layer for layer in net.graph.layers}
    external: list[str] = []
    for name in members:
        external += [v for v in layers[name].inputs if v not in members and v not in external]
    return {"sepc": 1, "name": SUB_MODEL_NAME,
            "inputs": {v: {"shape": list(net.graph.shape_of(v)), "dtype": "float32"}
                       for v in external},
            "layers": [written[name] for name in members], "outputs": [members[-1]]}


def signature(nk: NetworkKernel, sub_graph: Graph) -> str:
    """What determines a kernel's code, hashed: its kind and shapes, and the normalised
    layers of its sub-model (ops, attributes, parameters, shapes) with names left out."""
    index = {spec.name: i for i, spec in enumerate(sub_graph.inputs)}
    index |= {layer.name: len(index) + i for i, layer in enumerate(sub_graph.layers)}
    kernel = {k: v for k, v in vars(nk.kernel).items() if k != "layer"}
    layers = [{"op": layer.op, "attrs": layer.attrs, "inputs": [index[v] for v in layer.inputs],
               "shape": layer.out_shape, "params": sorted(layer.params)}
              for layer in sub_graph.layers]
    text = json.dumps({"kernel": kernel, "inputs": [s.shape for s in sub_graph.inputs],
                       "layers": layers}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def reproduces(sub_graph: Graph, nk: NetworkKernel, target: Target) -> str | None:
    """Why the sub-model does not reproduce the network's kernel, or None if it does."""
    found = {k.layer: k for k in scheduled_kernels(sub_graph, target)}
    twin = found.get(nk.layer)
    if twin is None:
        return f"its sub-model has no kernel {nk.layer}"
    if twin.kernel != nk.kernel:
        return "its sub-model's kernel has other shapes"
    if twin.decisions != nk.decisions:
        return "its sub-model's kernel gets other default decisions"
    return None
