"""Declared passes: a name, a one-line docstring and a function of the module, its typed
options the function's keyword-only parameters (as xDSL's ModulePass declares them).

    @module_pass("prefetch-next-panels")
    def prefetch_next_panels(module: ir.Operation, *, min_bytes: int = 262144) -> None:
        \"\"\"Prefetch the next block of packed weight panels ...\"\"\"

is run in a pipeline as `prefetch-next-panels{min-bytes=65536}` (options in MLIR's
spelling, dashes for underscores). The registry is lazy: PASS_MODULES names the module of
each pass, imported when the pass is first asked for, so `sepc opt` and the pipeline load
only what they run. A name registered twice is refused.
"""
from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from mlir import ir
from mlir.passmanager import PassManager

from ..errors import InternalError, UserError

# pass name -> module in sepc.passes that declares it
PASS_MODULES: dict[str, str] = {
    "split-separable": "split_separable",
    "fold-batch-norm": "fold_batch_norm",
    "fold-rescaling": "fold_batch_norm",
    "fuse-activation": "fuse_activation",
    "verify-sep": "verify_sep",
    "fuse-separable": "fuse_separable",
    "pack-matmul-weights": "pack_matmul_weights",
    "lower-to-linalg": "lower_to_linalg",
    "select-strategy": "select_strategy",
    "outline-layers": "outline_layers",
    "elide-zero-pads": "elide_zero_pads",
    "fill-pad-borders": "fill_pad_borders",
    "stagger-tile-buffers": "stagger_tile_buffers",
    "drop-output-results": "drop_output_results",
    "free-after-last-use": "free_after_last_use",
    "lower-memref-copies": "lower_memref_copies",
    "prefetch-next-panels": "prefetch_next_panels",
    "drop-buffer-arg-attrs": "drop_buffer_arg_attrs",
    "add-thread-control": "add_thread_control",
    "add-serial-thread-control": "add_thread_control",
    "insert-layer-timers": "insert_layer_timers",
    "partition-parallel-loops": "partition_parallel_loops",
}

OPTION_TYPES: dict[type, Callable[[str], Any]] = {
    int: int,
    float: float,
    str: str,
    bool: lambda text: {"true": True, "1": True, "false": False, "0": False}[text],
}


@dataclass(frozen=True)
class Option:
    name: str            # as spelled in a pipeline: min-bytes
    type: type
    default: Any


@dataclass(frozen=True)
class ModulePass:
    name: str
    summary: str
    options: tuple[Option, ...]
    run: Callable[..., None]

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


_REGISTERED: dict[str, ModulePass] = {}


def module_pass(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare `fn(module, *, option: type = default, ...)` as the pass `name`."""
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        if name in _REGISTERED:
            raise ValueError(f"pass {name!r} is declared twice "
                             f"({_REGISTERED[name].run.__module__} and {fn.__module__})")
        summary = (fn.__doc__ or "").strip().splitlines()
        if not summary:
            raise ValueError(f"pass {name!r} ({fn.__module__}) has no docstring")
        _REGISTERED[name] = ModulePass(name, summary[0], _options(name, fn), fn)
        return fn
    return register


def _options(name: str, fn: Callable[..., None]) -> tuple[Option, ...]:
    options = []
    hints = inspect.get_annotations(fn, eval_str=True)
    for parameter in list(inspect.signature(fn).parameters.values())[1:]:
        kind = hints.get(parameter.name)
        if parameter.kind is not parameter.KEYWORD_ONLY or kind not in OPTION_TYPES \
                or parameter.default is parameter.empty:
            raise ValueError(f"pass {name!r}: option {parameter.name!r} must be keyword-only, "
                             "typed int, float, str or bool, with a default")
        options.append(Option(parameter.name.replace("_", "-"), kind, parameter.default))
    return tuple(options)


def get_pass(name: str) -> ModulePass:
    if name not in PASS_MODULES:
        raise UserError(f"unknown pass {name!r}, expected one of {', '.join(sorted(PASS_MODULES))}")
    if name not in _REGISTERED:
        importlib.import_module(f"{__package__}.{PASS_MODULES[name]}")
    return _REGISTERED[name]


def all_passes() -> dict[str, ModulePass]:
    return {name: get_pass(name) for name in PASS_MODULES}


@dataclass(frozen=True)
class PassSpec:
    """One pass of a pipeline with its options (by their pipeline spelling)."""
    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        if not self.options:
            return self.name
        values = " ".join(f"{k}={_spell(v)}" for k, v in self.options.items())
        return f"{self.name}{{{values}}}"


def _spell(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


SPEC = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(?:\{([^{}]*)\})?\s*")


def parse_pipeline(text: str) -> list[PassSpec]:
    """`a,b{x=1 y=true},c` -> PassSpecs, each option checked against the pass's types."""
    specs, position = [], 0
    while position < len(text):
        match = SPEC.match(text, position)
        if not match or not match.group(1):
            raise UserError(f"pass pipeline {text!r}: cannot parse at {text[position:]!r}")
        specs.append(_checked_spec(match.group(1), match.group(2) or ""))
        position = match.end()
        if position < len(text):
            if text[position] != ",":
                raise UserError(f"pass pipeline {text!r}: expected ',' at {text[position:]!r}")
            position += 1
    return specs


def _checked_spec(name: str, options_text: str) -> PassSpec:
    declared = get_pass(name)
    options: dict[str, Any] = {}
    for item in options_text.split():
        key, sep, value = item.partition("=")
        option = declared.option(key)
        if option is None or not sep:
            names = ", ".join(o.name for o in declared.options) or "none"
            raise UserError(f"pass {name!r}: option {item!r} is not KEY=VALUE of a declared "
                            f"option (its options: {names})")
        try:
            options[key] = OPTION_TYPES[option.type](value)
        except (ValueError, KeyError):
            raise UserError(f"pass {name!r}: option {key}={value!r}, expected "
                            f"{option.type.__name__}") from None
    return PassSpec(name, options)


def run_passes(module: ir.Module, specs: list[PassSpec]) -> None:
    """Run declared passes through a PassManager so each is verified like an upstream pass."""
    pm = PassManager("builtin.module")
    for spec in specs:
        declared = get_pass(spec.name)
        unknown = [k for k in spec.options if declared.option(k) is None]
        if unknown:
            raise InternalError(f"pass {spec.name!r} has no option {unknown[0]!r}")
        kwargs = {k.replace("-", "_"): v for k, v in spec.options.items()}
        pm.add(lambda op, _pass, run=declared.run, kw=kwargs: run(op, **kw), name=declared.name)
    pm.run(module.operation)
