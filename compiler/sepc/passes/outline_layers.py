"""outline-layers: every transform op that reports a diagnostic (fuse_into_containing_op
always builds one) prints its payload op, and printing verifies and numbers the whole
enclosing function. With the network as one function each fuse costs the size of the
network, so the tiling script grew quadratically (Xception 150: 21.7 s of 49.8). Moving
each layer's ops into a private function of its own for the transform scripts bounds that
cost by the layer; `inline` puts them back before bufferization, so what the stages after
see is unchanged.

A layer's ops are the ops whose `sep.part` or `sep.layer` names it and the unnamed ops all
of whose users are in it (its pads, empty tensors and weights). Unnamed constants and empty
tensors that several layers use are copied into each; any other value crossing the layer's
boundary becomes an argument or a result of its function."""
from __future__ import annotations

from mlir import ir
from mlir.dialects import func

from .ir_util import defining_op, walk_ops
from .registry import module_pass

COPIED_OPS = ("arith.constant", "tensor.empty")


def layer_name(op: ir.Operation) -> str | None:
    if "sep.part" in op.attributes:
        return ir.StringAttr(op.attributes["sep.part"]).value.split(":")[0]
    if "sep.layer" in op.attributes:
        return ir.StringAttr(op.attributes["sep.layer"]).value
    return None


def top_level_user(user: ir.OpView | ir.Operation, fn: ir.Operation) -> ir.Operation:
    """user, or its ancestor, directly in the body of fn."""
    op = user.operation
    while (parent := op.parent) is not None and parent.operation != fn:
        op = parent.operation
    return op


def contains(group: list[ir.Operation], op: ir.Operation) -> bool:
    # Not a set: an op's Python hash changes when its operands are set.
    return any(op == member for member in group)


def assign_layers(fn: ir.Operation, ops: list[ir.Operation]) -> dict[ir.Operation, str]:
    """Each op's layer (ops: fn's body, its terminator last): its own name, else the one
    layer all its users are in."""
    layer: dict[ir.Operation, str] = {}
    for op in reversed(ops[:-1]):
        name = layer_name(op)
        if name is None:
            users = {top_level_user(use.owner, fn)
                     for result in op.results for use in result.uses}
            names = {layer.get(u) for u in users}
            if len(names) == 1 and None not in names:
                name = names.pop()
        if name is not None:
            layer[op] = name
    return layer


def position_free(op: ir.Operation) -> bool:
    """An op that can move anywhere before its users (canonicalize hoists constants)."""
    return not op.operands and not op.regions


def contiguous_groups(ops: list[ir.Operation],
                      layer: dict[ir.Operation, str]) -> list[list[ir.Operation]]:
    """Each layer's ops, if those that are not position-free form one run; a layer whose
    ops are interleaved with others' stays where it is."""
    runs: list[tuple[str, list[ir.Operation]]] = []
    free: dict[str, list[ir.Operation]] = {}
    for op in ops:
        name = layer.get(op)
        if position_free(op):
            if name is not None:
                free.setdefault(name, []).append(op)
            continue
        if name is None:
            runs.append(("", []))  # breaks a run: it may use the run's results
        elif runs and runs[-1][0] == name:
            runs[-1][1].append(op)
        else:
            runs.append((name, [op]))
    count: dict[str, int] = {}
    for name, _ in runs:
        count[name] = count.get(name, 0) + 1
    return [free.get(name, []) + group for name, group in runs if name and count[name] == 1]


def nested_operands(op: ir.Operation) -> list[tuple[ir.Operation, int, ir.Value]]:
    """(owner, operand index, value) of op's operands and those of the ops in its regions."""
    found = []

    def visit(inner: ir.Operation) -> ir.WalkResult:
        for i, value in enumerate(inner.operands):
            found.append((inner, i, value))
        return ir.WalkResult.ADVANCE

    op.walk(visit, ir.WalkOrder.PRE_ORDER)
    return found


def outline(group: list[ir.Operation], name: str, module: ir.Operation,
            network: ir.Operation) -> None:
    within = {o for op in group for o in walk_ops(op)}
    defined = {v for o in within for v in o.results} | {
        a for o in within for r in o.regions for b in r.blocks for a in b.arguments}
    crossing = [(owner, i, v) for op in group for owner, i, v in nested_operands(op)
                if v not in defined]
    copied: list[tuple[ir.Value, ir.OpView]] = []
    inputs: list[ir.Value] = []
    for _, _, v in crossing:
        if v in inputs or any(v == c for c, _ in copied):
            continue
        owner = defining_op(v)
        if owner is not None and owner.name in COPIED_OPS and not owner.operands:
            copied.append((v, owner))
        else:
            inputs.append(v)
    outputs = [r for op in group for r in op.results
               if any(not contains(group, top_level_user(u.owner, network)) for u in r.uses)]

    loc = group[0].location
    fn_type = ir.FunctionType.get([v.type for v in inputs], [v.type for v in outputs])
    with ir.InsertionPoint(module.regions[0].blocks[0]), loc:
        fn = func.FuncOp(name, fn_type, visibility="private")
        entry = fn.add_entry_block()
    # An unknown location: the inliner would wrap every inlined op's location in it.
    with ir.InsertionPoint(group[-1]), ir.Location.unknown():
        call = func.CallOp([v.type for v in outputs], ir.FlatSymbolRefAttr.get(name), inputs)
    group[-1].move_before(call)
    for value, result in zip(outputs, call.results, strict=True):
        for use in list(value.uses):
            if not contains(group, top_level_user(use.owner, network)):
                use.owner.operands[use.operand_number] = result
    replacement: dict[ir.Value, ir.Value] = dict(zip(inputs, entry.arguments, strict=True))
    with ir.InsertionPoint(entry):
        for value, owner in copied:
            replacement[value] = owner.operation.clone().results[0]
        for op in group:
            entry.append(op)
        func.ReturnOp(outputs, loc=loc)
    for user, i, value in crossing:
        user.operands[i] = replacement[value]


@module_pass("outline-layers")
def outline_layers(module: ir.Operation) -> None:
    """Move each layer's ops into a private function called where they were."""
    for fn in [op for op in module.regions[0].blocks[0].operations
               if op.operation.name == "func.func" and "sym_visibility" not in op.attributes]:
        ops = [op.operation for op in fn.regions[0].blocks[0].operations]
        layer = assign_layers(fn.operation, ops)
        base = ir.StringAttr(fn.attributes["sym_name"]).value
        for index, group in enumerate(contiguous_groups(ops[:-1], layer)):
            outline(group, f"{base}__layer{index}", module, fn.operation)
