"""The front end: model.json (spec/model-json.md) -> a validated, shape-inferred Graph.

Every rule of the spec is checked here, before any code is generated, and each violation
becomes one UserError line: `FILE: layer 'NAME' (#INDEX): field 'FIELD': FOUND, expected WHAT`.
What each op takes (its fields with their parsers and defaults, the input rank it needs,
how its output shape follows and which parameters it carries) is its row of the op table,
sepc/ops.py.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from typing import Any, NoReturn

from sepc.errors import UserError
from sepc.frontend.fields import MISSING, SameAs, Site, is_int, show
from sepc.frontend.graph import Graph, Layer, TensorSpec
from sepc.frontend.shapes import Operand, same_padding  # noqa: F401  (same_padding: tests)
from sepc.frontend.weights import (ParamSpec, attach_npz_params, attach_random_params,
                                   format_shape)
from sepc.ops import MAX_INPUTS, OPS, Op

FORMAT_VERSION = 1
TOP_LEVEL_FIELDS = ("sepc", "name", "inputs", "weights", "layers", "outputs")
C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Generated code indexes tensors and constants with 32-bit integers.
MAX_ELEMENTS = 2**31 - 1


def load_model(path: str, random_weights_seed: int | None = None) -> Graph:
    """Reads, validates and shape-infers model.json; attaches the layer parameters.

    With random_weights_seed the .npz is not read (it may be absent): parameters are drawn
    deterministically from that seed instead.
    """
    path = os.fspath(path)
    document = _read_json(path)
    top = Site(path)
    if not isinstance(document, JsonObject):
        top.fail(show(document), "a JSON object with fields " + ", ".join(TOP_LEVEL_FIELDS))
    # The version comes first: a newer file should be told so, not flooded with field errors.
    _check_version(document.get("sepc", MISSING), top.at("sepc"))
    _check_keys(document, top, TOP_LEVEL_FIELDS)
    name = _model_name(document.get("name", MISSING), top.at("name"))
    inputs = _parse_inputs(document.get("inputs", MISSING), top.at("inputs"))
    values = {spec.name: spec.shape for spec in inputs}
    layers = _parse_layers(document.get("layers", MISSING), path, values)
    outputs = _parse_outputs(document.get("outputs", MISSING), top.at("outputs"), values)
    _attach_params(document.get("weights", MISSING), layers, top.at("weights"),
                   random_weights_seed)
    return Graph(name=name, inputs=inputs, layers=[layer for layer, _ in layers],
                 outputs=outputs, source=path)


# --- reading JSON -------------------------------------------------------------------------

class JsonObject(dict):
    """A JSON object that remembers keys given twice (json would silently keep the last)."""

    duplicate_keys: tuple[str, ...]


def _json_object(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject(pairs)
    obj.duplicate_keys = tuple(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    return obj


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise UserError(f"{path}: file does not exist, expected a model.json") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: unreadable ({e}), expected a UTF-8 JSON file") from None

    def reject_constant(name: str) -> NoReturn:
        raise UserError(f"{path}: invalid JSON: {name} is not a JSON number")

    try:
        return json.loads(text, object_pairs_hook=_json_object, parse_constant=reject_constant)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: line {e.lineno}, column {e.colno}: "
                        f"invalid JSON: {e.msg}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid JSON: nested too deeply") from None


# --- checking keys ---------------------------------------------------------------------

def _check_unique_keys(obj: JsonObject, site: Site, prefix: str = "") -> None:
    for key in obj.duplicate_keys:
        site.at(prefix + key).fail("given twice", "each key once")


def _check_keys(obj: JsonObject, site: Site, allowed: tuple[str, ...], prefix: str = "",
                context: str = "") -> None:
    """Rejects keys given twice and unknown keys: a typo must not be ignored silently."""
    _check_unique_keys(obj, site, prefix)
    for key in obj:
        if key not in allowed:
            site.at(prefix + key).fail(f"unknown field{context}", "one of " + ", ".join(allowed))


LAYOUT_NAMES = {4: "NHWC", 3: "NWC"}


# --- top-level fields ----------------------------------------------------------------------

def _check_version(value: Any, site: Site) -> None:
    if not is_int(value) or value != FORMAT_VERSION:
        site.fail(show(value), f"{FORMAT_VERSION} (the only model.json format version "
                               "this sepc supports)")


def _model_name(value: Any, site: Site) -> str:
    if not (isinstance(value, str) and C_IDENTIFIER.fullmatch(value)):
        site.fail(show(value), "a C identifier ([A-Za-z_][A-Za-z0-9_]*)")
    return value


def _check_element_count(shape: tuple[int, ...], site: Site, what: str) -> None:
    if math.prod(shape) > MAX_ELEMENTS:
        site.fail(f"{what} {format_shape(shape)} with {math.prod(shape)} elements",
                  f"at most {MAX_ELEMENTS} elements")


def _parse_inputs(value: Any, site: Site) -> list[TensorSpec]:
    if not isinstance(value, JsonObject) or not value:
        site.fail(show(value), 'a non-empty object: name -> {"shape": [...], "dtype": "float32"}')
    _check_unique_keys(value, site, prefix="inputs.")
    return [_parse_input(name, entry, site.at(f"inputs.{name}")) for name, entry in value.items()]


def _parse_input(name: str, entry: Any, site: Site) -> TensorSpec:
    if not name:
        site.fail("an empty name", "a non-empty input name")
    if not isinstance(entry, JsonObject):
        site.fail(show(entry), 'an object {"shape": [...], "dtype": "float32"}')
    _check_keys(entry, site, ("shape", "dtype"), prefix=f"inputs.{name}.")
    shape = entry.get("shape", MISSING)
    shape_site = site.at(f"inputs.{name}.shape")
    if not (isinstance(shape, list) and len(shape) >= 2
            and all(is_int(d) and d >= 1 for d in shape)):
        shape_site.fail(show(shape), "a list of 2 or more positive integers, batch first")
    _check_element_count(tuple(shape), shape_site, "shape")
    dtype = entry.get("dtype", MISSING)
    if dtype != "float32":
        site.at(f"inputs.{name}.dtype").fail(show(dtype), '"float32" (the only dtype of version 1)')
    return TensorSpec(name, tuple(shape), dtype)


def _parse_outputs(value: Any, site: Site, values: dict[str, tuple[int, ...]]) -> list[str]:
    if not isinstance(value, list) or not value:
        site.fail(show(value), "a non-empty list of input or layer names")
    for name in value:
        if not isinstance(name, str) or name not in values:
            site.fail(show(name), "the name of an input or a layer")
    for name, count in Counter(value).items():
        if count > 1:
            site.fail(f"{show(name)} listed {count} times", "each output once")
    return list(value)


def _attach_params(weights: Any, layers: list[tuple[Layer, list[ParamSpec]]], site: Site,
                   seed: int | None) -> None:
    if weights is not MISSING and not (isinstance(weights, str) and weights):
        site.fail(show(weights), "the path of a .npz file, relative to the model.json folder")
    if seed is not None:
        attach_random_params(layers, seed)
    elif weights is not MISSING:
        attach_npz_params(layers, os.path.join(os.path.dirname(site.file), weights), site.file)
    else:
        needy = next((layer for layer, specs in layers if specs), None)
        if needy is not None:
            site.fail(f"missing while layer '{needy.name}' (#{needy.index}) has parameters",
                      "the path of a .npz file (or random weights)")


# --- layers --------------------------------------------------------------------------------

def _parse_layers(value: Any, path: str,
                  values: dict[str, tuple[int, ...]]) -> list[tuple[Layer, list[ParamSpec]]]:
    """Parses layers in order; `values` gains each layer's output shape as it is defined."""
    if not isinstance(value, list):
        Site(path, field="layers").fail(show(value), "a list of layer objects")
    # Known up front so that a reference to a later layer is reported as out of order.
    layer_names = {raw["name"] for raw in value
                   if isinstance(raw, dict) and isinstance(raw.get("name"), str)}
    layers = []
    for index, raw in enumerate(value):
        layer, specs = _parse_layer(raw, path, index, values, layer_names)
        values[layer.name] = layer.out_shape
        layers.append((layer, specs))
    return layers


def _display_name(raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and name else "?"


def _parse_layer(raw: Any, path: str, index: int, values: dict[str, tuple[int, ...]],
                 layer_names: set[str]) -> tuple[Layer, list[ParamSpec]]:
    site = Site(path, _display_name(raw), index)
    if not isinstance(raw, JsonObject):
        site.fail(show(raw), 'a layer object {"name": ..., "op": ..., ...}')
    name = raw.get("name", MISSING)
    if not (isinstance(name, str) and name):
        site.at("name").fail(show(name), "a non-empty string")
    if name in values:
        site.at("name").fail(f"{show(name)}, already the name of an input or an earlier layer",
                             "a unique name")
    op = raw.get("op", MISSING)
    if not (isinstance(op, str) and op in OPS):
        site.at("op").fail(show(op), "one of " + ", ".join(OPS))
    spec = OPS[op]
    _check_keys(raw, site, ("name", "op", spec.inputs_field, *spec.fields),
                context=f" for op '{op}'")
    operands = _parse_operands(raw, spec, site.at(spec.inputs_field), values, layer_names, name)
    attrs = _parse_attrs(raw, spec, site)
    out_shape = spec.infer(attrs, operands, site)
    _check_element_count(out_shape, site, "output shape")
    params = spec.params(attrs, operands[0][1])
    for param in params:
        _check_element_count(param.shape, site.at(f"{name}/{param.name}"), "parameter shape")
    layer = Layer(index=index, name=name, op=op, inputs=[n for n, _ in operands],
                  attrs=attrs, out_shape=out_shape)
    return layer, params


def _parse_operands(raw: dict, spec: Op, site: Site, values: dict[str, tuple[int, ...]],
                    layer_names: set[str], own_name: str) -> list[Operand]:
    if spec.inputs_field == "inputs":
        names = raw.get("inputs", MISSING)
        if not (isinstance(names, list) and len(names) >= 2):
            site.fail(show(names), "a list of two or more input or layer names")
        if not spec.inputs_alike and len(names) > MAX_INPUTS:
            site.fail(f"{len(names)} names", f"at most {MAX_INPUTS} input or layer names")
    else:
        names = [raw.get("input", MISSING)]
    operands = [(name, _resolve(name, site, values, layer_names, own_name)) for name in names]
    for name, shape in operands:
        if spec.input_rank is not None and len(shape) != spec.input_rank:
            site.fail(f'"{name}" of shape {format_shape(shape)}',
                      f"a rank-{spec.input_rank} {LAYOUT_NAMES[spec.input_rank]} tensor")
    return operands


def _resolve(name: Any, site: Site, values: dict[str, tuple[int, ...]], layer_names: set[str],
             own_name: str) -> tuple[int, ...]:
    expected = "the name of an input or an earlier layer"
    if not isinstance(name, str):
        site.fail(show(name), expected)
    if name in values:
        return values[name]
    if name == own_name:
        site.fail(f"{show(name)}, the layer itself", expected)
    if name in layer_names:
        site.fail(f"{show(name)}, a later layer", expected + " (layers are in topological order)")
    site.fail(f"{show(name)}, an unknown name", expected)


def _parse_attrs(raw: dict, spec: Op, site: Site) -> dict[str, Any]:
    """The op's fields, parsed and normalised, defaults filled in, in table order."""
    attrs: dict[str, Any] = {}
    for field_name, field in spec.fields.items():
        value = raw.get(field_name, MISSING)
        if value is MISSING and isinstance(field.default, SameAs):
            attrs[field_name] = attrs[field.default.field]
            continue
        if value is MISSING and field.default is not MISSING:
            value = field.default
        attrs[field_name] = field.parse(value, site.at(field_name), spec.spatial_rank)
    return attrs
