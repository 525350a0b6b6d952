"""The fields of model.json layers: where a value sits (for error messages) and the parsers
that turn a raw JSON value into its normalised form or reject it with one line.

A parser is `(raw JSON value, site, spatial rank) -> value`; ops (sepc/ops.py) list their
fields as `Field(parser, default)`.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, replace
from typing import Any, Callable, NoReturn

from sepc.errors import UserError, where

PADDING_MODES = ("valid", "same")

# An absent field: show() prints it as "missing", so parsers need no special case for it.
MISSING: Any = object()


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


def is_int(value: Any) -> bool:
    # bool is an int in Python but `true` is not a number in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


Parser = Callable[[Any, Site, Any], Any]


@dataclass(frozen=True)
class SameAs:
    """A default copied from another, earlier field (pooling strides default to pool_size)."""
    field: str


@dataclass(frozen=True)
class Field:
    parse: Parser
    default: Any = MISSING          # MISSING: the field is required


def positive_int(value: Any, site: Site, rank: int | None = None) -> int:
    if not is_int(value) or value < 1:
        site.fail(show(value), "a positive integer")
    return int(value)


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


def spatial_sizes(value: Any, site: Site, rank: int) -> tuple[int, ...]:
    """An int meaning the same size on every spatial axis, or one int per axis."""
    items = [value] * rank if is_int(value) else value
    if not (isinstance(items, list) and len(items) == rank
            and all(is_int(v) and v >= 1 for v in items)):
        site.fail(show(value), f"a positive integer or a list of {rank} positive integer"
                               + "s" * (rank > 1))
    return tuple(items)


def _padding_pairs(value: Any, site: Site, rank: int, expected: str) -> tuple[tuple[int, int], ...]:
    if not (isinstance(value, list) and len(value) == rank
            and all(isinstance(p, list) and len(p) == 2 and all(is_int(v) and v >= 0 for v in p)
                    for p in value)):
        site.fail(show(value), expected)
    return tuple((before, after) for before, after in value)


def _pairs_text(rank: int) -> str:
    return f"a list of {rank} [before, after] pair{'s' * (rank > 1)} of non-negative integers"


def window_padding(value: Any, site: Site, rank: int) -> str | tuple[tuple[int, int], ...]:
    """Convolutions: "valid", "same", or explicit pairs (resolved to pairs by the shape
    inference of the op, frontend/shapes.py)."""
    if isinstance(value, str) and value in PADDING_MODES:
        return value
    return _padding_pairs(value, site, rank, f'"valid", "same" or {_pairs_text(rank)}')


def explicit_padding(value: Any, site: Site, rank: int) -> tuple[tuple[int, int], ...]:
    return _padding_pairs(value, site, rank, _pairs_text(rank))


def target_shape(value: Any, site: Site, rank: int | None = None) -> tuple[int, ...]:
    """Keras Reshape: positive sizes, at most one -1 to be inferred from the element count."""
    if not (isinstance(value, list) and value and value.count(-1) <= 1
            and all(is_int(d) and (d >= 1 or d == -1) for d in value)):
        site.fail(show(value), "a non-empty list of positive integers (one may be -1)")
    return tuple(value)


def numbers(value: Any, site: Site, rank: int | None = None) -> tuple[float, ...]:
    """A finite number, or a non-empty list of them (one per channel): the values of
    `rescaling`'s scale and offset, normalised to a tuple (of one for a number)."""
    items = value if isinstance(value, list) else [value]
    if not (items and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          and math.isfinite(v) for v in items)):
        site.fail(show(value), "a finite number or a non-empty list of finite numbers "
                               "(one per channel)")
    return tuple(float(v) for v in items)


def one_of(names: tuple[str, ...] | list[str]) -> Parser:
    """A string naming one of `names` (an activation, say)."""
    def parse(value: Any, site: Site, rank: int | None = None) -> str:
        if not isinstance(value, str) or value not in names:
            site.fail(show(value), "one of " + ", ".join(names))
        return value
    return parse
