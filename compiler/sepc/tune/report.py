"""What a tuning run writes: the strategy file and the table of its kernels."""
from __future__ import annotations

import json
from typing import Sequence

from .search import Outcome

LAYERS_WIDTH = 30


def strategy_text(outcomes: Sequence[Outcome], layer_order: Sequence[str]) -> str:
    """A strategy file (the format --emit strategy prints, one layer per line, in
    `layer_order`) of every layer whose best strategy is not the cost model's: all its
    decisions, as measured (fixing only the changed ones would let the others follow the
    cost model again, to values that were never timed)."""
    entries = {layer: {"kind": o.group.first.kind} | o.winner
               for o in outcomes if o.winner != o.default for layer in o.group.layers}
    lines = [f"  {json.dumps(layer)}: {json.dumps(entries[layer])}"
             for layer in layer_order if layer in entries]
    return "{\n" + ",\n".join(lines) + ("\n" if lines else "") + "}\n"


def layers_cell(layers: list[str]) -> str:
    text = ",".join(layers)
    if len(text) <= LAYERS_WIDTH:
        return text
    return f"{layers[0]} +{len(layers) - 1}"


def ms(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "-"


def gain(o: Outcome) -> float | None:
    if o.default_ms is None or o.best_ms is None or not o.default_ms:
        return None
    return 1 - o.best_ms / o.default_ms


def percent(value: float | None) -> str:
    return f"{100 * value:+.1f}%" if value is not None else "-"


def table(outcomes: Sequence[Outcome]) -> str:
    """One row per kernel group, as ordered_outcomes sorts them, then the network's
    estimate: the sum over timed kernels of ms x layers."""
    head = ("kernel", "kind", "layers", "default ms", "best ms", "gain", "status",
            "decisions changed")
    rows = [(o.group.first.layer, o.group.first.kind, layers_cell(o.group.layers),
             ms(o.default_ms), ms(o.best_ms), percent(gain(o)),
             o.status + (f" ({o.note})" if o.note else ""), o.changed or "-")
            for o in outcomes]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head) - 1)]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(r, widths, strict=False)) + "  "
             + r[-1] for r in [head, *rows]]
    return "\n".join(line.rstrip() for line in lines) + "\n" + total_line(outcomes) + "\n"


def total_line(outcomes: Sequence[Outcome]) -> str:
    """Kernels measured only by their default count at that time on both sides."""
    timed = [(o.default_ms, o.best_ms if o.best_ms is not None else o.default_ms,
              len(o.group.layers)) for o in outcomes if o.default_ms is not None]
    before = sum(d * n for d, _, n in timed)
    after = sum(b * n for _, b, n in timed)
    left = len(outcomes) - len(timed)
    if not before:
        return "estimated network time: nothing measured"
    return (f"estimated network time (sum of its kernels alone): {before:.3f} ms -> "
            f"{after:.3f} ms, gain {percent(1 - after / before)}"
            + (f"; {left} kernel(s) not measured" if left else ""))
