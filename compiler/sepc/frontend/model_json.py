"""The front end: model.json (spec/model-json.md) -> a validated, shape-inferred Graph.

Every rule of the spec is checked here, before any code is generated, and each violation
becomes one UserError line: `FILE: layer 'NAME' (#INDEX): field 'FIELD': FOUND, expected WHAT`.
Ops are rows of a table (OPS): the fields each takes with their parsers and defaults, the
input rank it needs, how its output shape follows and which parameters it carries, so a new
op is a new row rather than another branch.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Callable, NoReturn

from sepc.errors import UserError, where
from sepc.frontend.graph import ACTIVATIONS, Graph, Layer, TensorSpec
from sepc.frontend.weights import (ParamSpec, attach_npz_params, attach_random_params,
                                   format_shape)

FORMAT_VERSION = 1
TOP_LEVEL_FIELDS = ("sepc", "name", "inputs", "weights", "layers", "outputs")
C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PADDING_MODES = ("valid", "same")
SPATIAL_AXES = {1: ("W",), 2: ("H", "W")}
KERNEL_AXES = {1: ("K",), 2: ("KH", "KW")}
# Generated code indexes tensors and constants with 32-bit integers.
MAX_ELEMENTS = 2**31 - 1


# An absent field: show() prints it as "missing", so parsers need no special case for it.
MISSING = object()


def load_model(path: str, random_weights_seed: int | None = None) -> Graph:
    """Reads, validates and shape-infers model.json; attaches the layer parameters.

    With random_weights_seed the .npz is not read (it may be absent): parameters are drawn
    deterministically from that seed instead.
    """
    path = os.fspath(path)
    document = _read_json(path)
    top = Site(path)
    if not isinstance(document, dict):
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


# --- locating and describing errors -------------------------------------------------------

@dataclass(frozen=True)
class Site:
    """Where a value sits in model.json; builds the one-line error about it."""
    file: str
    layer: str | None = None
    index: int | None = None
    field: str | None = None

    def at(self, field: str) -> Site:
        return replace(self, field=field)

    def fail(self, found: str, expected: str) -> NoReturn:
        raise UserError(f"{where(self.file, self.layer, self.index, self.field)}: "
                        f"{found}, expected {expected}")


def show(value: Any) -> str:
    """A found value as the user wrote it (JSON), shortened so the message stays one line."""
    if value is MISSING:
        return "missing"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


# --- field parsers: (raw JSON value, site, spatial rank) -> normalised value ---------------

def _is_int(value: Any) -> bool:
    # bool is an int in Python but `true` is not a number in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: Any, site: Site, rank: int | None = None) -> int:
    if not _is_int(value) or value < 1:
        site.fail(show(value), "a positive integer")
    return value


def positive_float(value: Any, site: Site, rank: int | None = None) -> float:
    # The upper bound rejects inf and ints too large for a float; NaN fails the comparison.
    if (not isinstance(value, (int, float)) or isinstance(value, bool)
            or not 0 < value <= sys.float_info.max):
        site.fail(show(value), "a positive number")
    return float(value)


def boolean(value: Any, site: Site, rank: int | None = None) -> bool:
    if not isinstance(value, bool):
        site.fail(show(value), "true or false")
    return value


def activation_name(value: Any, site: Site, rank: int | None = None) -> str:
    if not isinstance(value, str) or value not in ACTIVATIONS:
        site.fail(show(value), "one of " + ", ".join(ACTIVATIONS))
    return value


def spatial_sizes(value: Any, site: Site, rank: int) -> tuple[int, ...]:
    """An int meaning the same size on every spatial axis, or one int per axis."""
    items = [value] * rank if _is_int(value) else value
    if not (isinstance(items, list) and len(items) == rank
            and all(_is_int(v) and v >= 1 for v in items)):
        site.fail(show(value), f"a positive integer or a list of {rank} positive integer"
                               + "s" * (rank > 1))
    return tuple(items)


def _padding_pairs(value: Any, site: Site, rank: int, expected: str) -> tuple[tuple[int, int], ...]:
    if not (isinstance(value, list) and len(value) == rank
            and all(isinstance(p, list) and len(p) == 2 and all(_is_int(v) and v >= 0 for v in p)
                    for p in value)):
        site.fail(show(value), expected)
    return tuple((before, after) for before, after in value)


def _pairs_text(rank: int) -> str:
    return f"a list of {rank} [before, after] pair{'s' * (rank > 1)} of non-negative integers"


def window_padding(value: Any, site: Site, rank: int) -> str | tuple[tuple[int, int], ...]:
    """Convolutions: "valid", "same", or explicit pairs (resolved to pairs by _window_output)."""
    if isinstance(value, str) and value in PADDING_MODES:
        return value
    return _padding_pairs(value, site, rank, f'"valid", "same" or {_pairs_text(rank)}')


def explicit_padding(value: Any, site: Site, rank: int) -> tuple[tuple[int, int], ...]:
    return _padding_pairs(value, site, rank, _pairs_text(rank))


def target_shape(value: Any, site: Site, rank: int | None = None) -> tuple[int, ...]:
    """Keras Reshape: positive sizes, at most one -1 to be inferred from the element count."""
    if not (isinstance(value, list) and value and value.count(-1) <= 1
            and all(_is_int(d) and (d >= 1 or d == -1) for d in value)):
        site.fail(show(value), "a non-empty list of positive integers (one may be -1)")
    return tuple(value)


# --- the op table --------------------------------------------------------------------------

@dataclass(frozen=True)
class SameAs:
    """A default copied from another, earlier field (pooling strides default to pool_size)."""
    field: str


@dataclass(frozen=True)
class Field:
    parse: Callable[[Any, Site, int | None], Any]
    default: Any = MISSING          # MISSING: the field is required


Operand = tuple[str, tuple[int, ...]]   # a value's name and shape


@dataclass(frozen=True)
class OpSpec:
    # 4 (NHWC) or 3 (NWC); None: any rank, as every value has rank >= 2 (inputs are checked
    # for it and no op lowers it further).
    input_rank: int | None
    fields: dict[str, Field]
    # Output shape from the parsed attrs; resolves "padding" to pairs where it applies.
    infer: Callable[[dict[str, Any], list[Operand], Site], tuple[int, ...]]
    params: Callable[[dict[str, Any], tuple[int, ...]], list[ParamSpec]] = lambda attrs, shape: []
    inputs_field: str = "input"     # "inputs" for add: a list of names

    @property
    def spatial_rank(self) -> int | None:
        return None if self.input_rank is None else self.input_rank - 2


def _window_output(attrs: dict[str, Any], in_shape: tuple[int, ...], site: Site,
                   kernel_field: str) -> tuple[int, ...]:
    """Spatial output sizes of a sliding window; sets attrs padding pairs and padding_mode."""
    kernel, strides = attrs[kernel_field], attrs["strides"]
    dilation = attrs.get("dilation_rate", (1,) * len(kernel))
    sizes = in_shape[1:-1]
    padding = attrs["padding"]
    attrs["padding_mode"] = padding if isinstance(padding, str) else "explicit"
    if padding == "valid":
        padding = ((0, 0),) * len(sizes)
    elif padding == "same":
        padding = tuple(same_padding(*args) for args in zip(sizes, kernel, strides, dilation))
    attrs["padding"] = padding
    out = []
    for axis, size, (before, after), k, s, d in zip(SPATIAL_AXES[len(sizes)], sizes, padding,
                                                    kernel, strides, dilation):
        extent, padded = d * (k - 1) + 1, size + before + after
        if extent > padded:
            site.at(kernel_field).fail(
                f"a window spanning {extent} along {axis} of an input padded to {padded}",
                "a window that fits in the padded input (output size >= 1)")
        out.append((padded - extent) // s + 1)
    return tuple(out)


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Keras/TensorFlow "same": the odd pixel of padding goes after (bottom/right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def infer_conv(attrs, operands, site):
    (_, shape), = operands
    return (shape[0], *_window_output(attrs, shape, site, "kernel_size"), attrs["filters"])


def infer_depthwise(attrs, operands, site):
    (_, shape), = operands
    spatial = _window_output(attrs, shape, site, "kernel_size")
    return (shape[0], *spatial, shape[-1] * attrs["depth_multiplier"])


def infer_pool(attrs, operands, site):
    (_, shape), = operands
    return (shape[0], *_window_output(attrs, shape, site, "pool_size"), shape[-1])


def infer_zero_padding(attrs, operands, site):
    (_, shape), = operands
    attrs["padding_mode"] = "explicit"
    padded = (size + before + after for size, (before, after) in zip(shape[1:-1], attrs["padding"]))
    return (shape[0], *padded, shape[-1])


def infer_global_pool(attrs, operands, site):
    (_, shape), = operands
    kept = (1,) * (len(shape) - 2) if attrs["keepdims"] else ()
    return (shape[0], *kept, shape[-1])


def infer_same_shape(attrs, operands, site):
    (_, shape), = operands
    return shape


def infer_add(attrs, operands, site):
    first_name, first_shape = operands[0]
    for name, shape in operands[1:]:
        if shape != first_shape:
            site.at("inputs").fail(
                f'"{name}" of shape {format_shape(shape)}',
                f'the shape of "{first_name}", {format_shape(first_shape)}')
    return first_shape


def infer_reshape(attrs, operands, site):
    (_, shape), = operands
    count, wanted = math.prod(shape[1:]), attrs["target_shape"]
    known = math.prod(d for d in wanted if d != -1)
    fits = count % known == 0 if -1 in wanted else count == known
    if not fits:
        site.at("target_shape").fail(
            f"{show(list(wanted))} for an input of shape {format_shape(shape)}",
            f"a shape with {count} elements per batch item")
    resolved = tuple(count // known if d == -1 else d for d in wanted)
    attrs["target_shape"] = resolved
    return (shape[0], *resolved)


def infer_dense(attrs, operands, site):
    (_, shape), = operands
    return (*shape[:-1], attrs["units"])


def _layout(*axes: str) -> str:
    return "(" + ", ".join(axes) + ")"


def _bias(attrs: dict[str, Any], size: int, axis: str) -> list[ParamSpec]:
    return [ParamSpec("bias", (size,), _layout(axis), "small_normal")] if attrs["use_bias"] else []


def conv_params(attrs, in_shape):
    kernel, channels, filters = attrs["kernel_size"], in_shape[-1], attrs["filters"]
    return [ParamSpec("kernel", (*kernel, channels, filters),
                      _layout(*KERNEL_AXES[len(kernel)], "C", "filters"), "he_normal",
                      math.prod(kernel) * channels),
            *_bias(attrs, filters, "filters")]


def _depthwise_kernel(attrs, in_shape) -> ParamSpec:
    kernel = attrs["kernel_size"]
    return ParamSpec("depthwise_kernel", (*kernel, in_shape[-1], attrs["depth_multiplier"]),
                     _layout(*KERNEL_AXES[len(kernel)], "C", "M"), "he_normal", math.prod(kernel))


def depthwise_params(attrs, in_shape):
    return [_depthwise_kernel(attrs, in_shape),
            *_bias(attrs, in_shape[-1] * attrs["depth_multiplier"], "C*M")]


def separable_params(attrs, in_shape):
    ones = (1,) * len(attrs["kernel_size"])
    mid, filters = in_shape[-1] * attrs["depth_multiplier"], attrs["filters"]
    return [_depthwise_kernel(attrs, in_shape),
            ParamSpec("pointwise_kernel", (*ones, mid, filters),
                      _layout(*("1",) * len(ones), "C*M", "filters"), "he_normal", mid),
            *_bias(attrs, filters, "filters")]


def batch_norm_params(attrs, in_shape):
    channels = (in_shape[-1],)
    return [ParamSpec("gamma", channels, "(C)", "near_one"),
            ParamSpec("beta", channels, "(C)", "small_normal"),
            ParamSpec("moving_mean", channels, "(C)", "small_normal"),
            ParamSpec("moving_variance", channels, "(C)", "near_one")]


def dense_params(attrs, in_shape):
    channels, units = in_shape[-1], attrs["units"]
    return [ParamSpec("kernel", (channels, units), "(C, units)", "he_normal", channels),
            *_bias(attrs, units, "units")]


ACTIVATION = Field(activation_name, "linear")
USE_BIAS = Field(boolean, True)


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


def _conv_ops(suffix: str, rank: int) -> dict[str, OpSpec]:
    return {
        "conv" + suffix: OpSpec(rank, _conv_fields(filters=True, depthwise=False),
                                infer_conv, conv_params),
        "depthwise_conv" + suffix: OpSpec(rank, _conv_fields(filters=False, depthwise=True),
                                          infer_depthwise, depthwise_params),
        "separable_conv" + suffix: OpSpec(rank, _conv_fields(filters=True, depthwise=True),
                                          infer_conv, separable_params),
    }


POOL_FIELDS = {
    "pool_size": Field(spatial_sizes),
    "strides": Field(spatial_sizes, SameAs("pool_size")),
    # Explicit pairs too (the spec's padding rules hold for every padding field); padded
    # positions never count: max never picks them, average divides by real elements.
    "padding": Field(window_padding, "valid"),
}

OPS: dict[str, OpSpec] = {
    **_conv_ops("2d", 4),
    **_conv_ops("1d", 3),
    # `activation` on batch_norm is an extension of the spec: importers fuse the following
    # activation layer into it (the shared conformance cases do).
    "batch_norm": OpSpec(None, {"epsilon": Field(positive_float, 0.001), "activation": ACTIVATION},
                         infer_same_shape, batch_norm_params),
    "activation": OpSpec(None, {"activation": Field(activation_name)}, infer_same_shape),
    "add": OpSpec(None, {"activation": ACTIVATION}, infer_add, inputs_field="inputs"),
    "zero_padding2d": OpSpec(4, {"padding": Field(explicit_padding)}, infer_zero_padding),
    "max_pooling2d": OpSpec(4, POOL_FIELDS, infer_pool),
    "average_pooling2d": OpSpec(4, POOL_FIELDS, infer_pool),
    "global_average_pooling2d": OpSpec(4, {"keepdims": Field(boolean, False)}, infer_global_pool),
    "global_average_pooling1d": OpSpec(3, {"keepdims": Field(boolean, False)}, infer_global_pool),
    "reshape": OpSpec(None, {"target_shape": Field(target_shape)}, infer_reshape),
    "dense": OpSpec(None, {"units": Field(positive_int), "use_bias": USE_BIAS,
                           "activation": ACTIVATION}, infer_dense, dense_params),
}

LAYOUT_NAMES = {4: "NHWC", 3: "NWC"}


# --- top-level fields ----------------------------------------------------------------------

def _check_version(value: Any, site: Site) -> None:
    if not _is_int(value) or value != FORMAT_VERSION:
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
    if not isinstance(value, dict) or not value:
        site.fail(show(value), 'a non-empty object: name -> {"shape": [...], "dtype": "float32"}')
    _check_unique_keys(value, site, prefix="inputs.")
    return [_parse_input(name, entry, site.at(f"inputs.{name}")) for name, entry in value.items()]


def _parse_input(name: str, entry: Any, site: Site) -> TensorSpec:
    if not name:
        site.fail("an empty name", "a non-empty input name")
    if not isinstance(entry, dict):
        site.fail(show(entry), 'an object {"shape": [...], "dtype": "float32"}')
    _check_keys(entry, site, ("shape", "dtype"), prefix=f"inputs.{name}.")
    shape = entry.get("shape", MISSING)
    shape_site = site.at(f"inputs.{name}.shape")
    if not (isinstance(shape, list) and len(shape) >= 2
            and all(_is_int(d) and d >= 1 for d in shape)):
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
        layer, specs = _parse_layer(raw, Site(path, _display_name(raw), index), values, layer_names)
        values[layer.name] = layer.out_shape
        layers.append((layer, specs))
    return layers


def _display_name(raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and name else "?"


def _parse_layer(raw: Any, site: Site, values: dict[str, tuple[int, ...]],
                 layer_names: set) -> tuple[Layer, list[ParamSpec]]:
    if not isinstance(raw, dict):
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
    layer = Layer(index=site.index, name=name, op=op, inputs=[n for n, _ in operands],
                  attrs=attrs, out_shape=out_shape)
    return layer, params


def _parse_operands(raw: dict, spec: OpSpec, site: Site, values: dict[str, tuple[int, ...]],
                    layer_names: set, own_name: str) -> list[Operand]:
    if spec.inputs_field == "inputs":
        names = raw.get("inputs", MISSING)
        if not (isinstance(names, list) and len(names) >= 2):
            site.fail(show(names), "a list of two or more input or layer names")
    else:
        names = [raw.get("input", MISSING)]
    operands = [(name, _resolve(name, site, values, layer_names, own_name)) for name in names]
    for name, shape in operands:
        if spec.input_rank is not None and len(shape) != spec.input_rank:
            site.fail(f'"{name}" of shape {format_shape(shape)}',
                      f"a rank-{spec.input_rank} {LAYOUT_NAMES[spec.input_rank]} tensor")
    return operands


def _resolve(name: Any, site: Site, values: dict[str, tuple[int, ...]], layer_names: set,
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


def _parse_attrs(raw: dict, spec: OpSpec, site: Site) -> dict[str, Any]:
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
