"""A kernel's strategy: every decision its schedule made, written into the IR on the kernel's
root op as `sep.strategy`, so the transform scripts are generated from the IR alone and a
lit test (or a user with --emit strategy) can see why a layer got its tiles.

The attribute is one dictionary: the schedule's decisions (register blocks, tile sizes,
loop orders, prefetch: what a strategy file may override) and the facts about the kernel's
shape its scripts need (its roles, the window width, ...), which nothing may override.

A strategy file (`sepc compile --strategy FILE`) is JSON keyed by layer name, each entry
the decisions to override: `{"pw1": {"pixels": 7, "rows": 14}}`, the format `--emit
strategy` prints (a `kind` entry, if given, must name the layer's kind).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NoReturn, Union

from mlir import ir

from ..errors import UserError, where
from ..passes.ir_util import named_attributes, walk_ops

STRATEGY = "sep.strategy"

Value = Union[int, bool, str, list]


@dataclass(frozen=True)
class Decision:
    """A named choice of a schedule: what it means, and the JSON type a file gives it in."""
    name: str
    doc: str
    type: type = int


class StrategyError(Exception):
    """A decision that cannot be honoured: the field, what it was, what it must be."""

    def __init__(self, field: str, found: Any, expected: str):
        super().__init__(f"field '{field}': {json.dumps(found)}, expected {expected}")
        self.field, self.found, self.expected = field, found, expected


def require(condition: bool, field: str, found: Any, expected: str) -> None:
    if not condition:
        raise StrategyError(field, found, expected)


@dataclass(frozen=True)
class Strategy:
    """What a schedule's scripts read: the layer, its kind and the attribute's entries."""
    layer: str
    kind: str
    values: Mapping[str, Value]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def root_role(self) -> str:
        return str(self.values["root_role"])

    @property
    def roles(self) -> list[str]:
        return list(self["roles"])

    def part(self, role: str) -> str:
        return f"{self.layer}:{role}"

    @property
    def producers(self) -> list[str]:
        """Roles to fuse into the root's loops, consumer first (fusion goes up the chain):
        a fused separable kernel's depthwise chain (dw_*) feeds its main op's input; a global
        pooling's spatial sums (reduce, reduce_init) feed its scaling epilogue."""
        return [r for r in ("main", "init", "reduce", "reduce_init", "dw_epilogue", "dw_main",
                            "dw_init", "dw_pad")
                if r in self.roles and r != self.root_role]


# --- the attribute ------------------------------------------------------------------------

def to_attr(values: Mapping[str, Value]) -> ir.Attribute:
    return ir.DictAttr.get({name: _attr(value) for name, value in values.items()})


def _attr(value: Value) -> ir.Attribute:
    if isinstance(value, bool):
        return ir.BoolAttr.get(value)
    if isinstance(value, int):
        return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), value)
    if isinstance(value, str):
        return ir.StringAttr.get(value)
    return ir.ArrayAttr.get([_attr(v) for v in value])


def from_attr(attr: ir.Attribute) -> dict[str, Value]:
    return {named.name: _value(named.attr) for named in named_attributes(attr)}


def _value(attr: ir.Attribute) -> Value:
    if isinstance(attr, ir.BoolAttr):
        return bool(attr.value)
    if isinstance(attr, ir.IntegerAttr):
        if ir.IntegerType(attr.type).width == 1:
            return bool(attr.value)
        return int(attr.value)
    if isinstance(attr, ir.StringAttr):
        return attr.value
    return [_value(a) for a in ir.ArrayAttr(attr)]


def strategy_of(op: ir.OpView) -> Strategy:
    values = from_attr(op.attributes[STRATEGY])
    return Strategy(str(values.pop("layer")), str(values.pop("kind")), values)


def find_strategies(root: ir.Operation) -> list[Strategy]:
    """The strategy of every kernel in the module, in the order of their ops, once per
    layer (a root op tiled, or its loop peeled, carries it on each copy)."""
    found: dict[str, Strategy] = {}
    for op in walk_ops(root):
        if STRATEGY in op.attributes:
            strategy = strategy_of(op)
            found.setdefault(strategy.layer, strategy)
    return list(found.values())


# --- strategy files -----------------------------------------------------------------------

@dataclass(frozen=True)
class Overrides:
    """The decisions a strategy file fixes, by layer; `source` names it in messages."""
    source: str
    layers: Mapping[str, Mapping[str, Any]]

    def fail(self, layer: str | None, message: str) -> NoReturn:
        raise UserError(f"{where(self.source, layer)}: {message}")

    def check_layers(self, known: Iterable[str]) -> None:
        known = list(known)
        for layer in self.layers:
            if layer not in known:
                self.fail(layer, "no kernel of this model has that name, expected one of "
                                 + ", ".join(known))


NO_OVERRIDES = Overrides("<none>", {})


def load_overrides(path: str) -> Overrides:
    """A strategy file, read and checked for its form (the values are checked against each
    layer by its schedule, when the strategy is chosen)."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except FileNotFoundError:
        raise UserError(f"{path}: file does not exist, expected a strategy file (JSON)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: unreadable ({e}), expected a strategy file (JSON)") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: line {e.lineno}, column {e.colno}: "
                        f"invalid JSON: {e.msg}") from None
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise UserError(f"{path}: expected a JSON object of layer name -> "
                        "{decision: value, ...}")
    return Overrides(path, document)


def typed_overrides(overrides: Overrides, layer: str, kind: str,
                    decisions: Iterable[Decision]) -> dict[str, Value]:
    """A layer's entries, each a decision of its schedule and of that decision's type."""
    declared = {d.name: d for d in decisions}
    fixed: dict[str, Value] = {}
    for name, value in overrides.layers.get(layer, {}).items():
        if name == "kind":
            if value != kind:
                overrides.fail(layer, f"field 'kind': {json.dumps(value)}, expected "
                                      f"\"{kind}\" (a strategy cannot change a kernel's kind)")
            continue
        if name not in declared:
            overrides.fail(layer, f"field '{name}': not a decision of a {kind} kernel, expected "
                                  + (", ".join(declared) or "no fields"))
        wanted = declared[name].type
        valid = isinstance(value, bool) if wanted is bool else (
            isinstance(value, int) and not isinstance(value, bool) and value >= 0)
        if not valid:
            overrides.fail(layer, f"field '{name}': {json.dumps(value)}, expected "
                                  + ("true or false" if wanted is bool else
                                     "a non-negative integer"))
        fixed[name] = value
    return fixed


def describe(strategies: Iterable[Strategy], decisions_of: Mapping[str, Iterable[Decision]],
             unscheduled: Iterable[tuple[str, str]] = ()) -> str:
    """--emit strategy: a strategy file of every kernel's decisions, one layer per line."""
    lines = []
    for s in strategies:
        entry = {"kind": s.kind} | {d.name: s[d.name] for d in decisions_of[s.kind]}
        lines.append(f"  {json.dumps(s.layer)}: {json.dumps(entry)}")
    lines += [f"  {json.dumps(layer)}: {json.dumps({'kind': kind})}" for layer, kind in unscheduled]
    return "{\n" + ",\n".join(lines) + "\n}\n"
