"""The strategy layer: every schedule's default decisions pass its own checks on many
shapes and every target (a strategy file may restate them), the IR attribute round-trips,
strategy files are checked for their form, and the pass registry refuses what it must."""
from __future__ import annotations

import itertools

import pytest
from mlir import ir

from sepc.errors import UserError
from sepc.passes import registry
from sepc.schedules import SCHEDULES
from sepc.schedules.kernel import Kernel
from sepc.schedules.strategy import Overrides, from_attr, to_attr, typed_overrides
from sepc.targets import TARGETS

SPATIAL = [1, 3, 5, 7, 10, 13, 14, 19, 25, 28, 56, 112]
CHANNELS = [3, 16, 24, 40, 72, 128, 276]


def depthwise_kernel(h: int, w: int, c: int, k: int) -> Kernel:
    main = [[1, h + k - 1, w + k - 1, c], [k, k, c], [1, h, w, c]]
    return Kernel("dw", "depthwise2d", "epilogue", ["epilogue", "init", "main"], main,
                  [1, h, w, c], {"main": main})


def matmul_kernel(m: int, k: int, n: int) -> Kernel:
    main = [[m, k], [k, n], [m, n]]
    return Kernel("mm", "matmul", "main", ["init", "main"], main, [m, n], {"main": main})


def conv_kernel(h: int, w: int, c: int, f: int, k: int) -> Kernel:
    main = [[1, h + k - 1, w + k - 1, c], [k, k, c, f], [1, h, w, f]]
    return Kernel("cv", "conv2d", "main", ["init", "main"], main, [1, h, w, f], {"main": main})


def separable_kernel(h: int, w: int, c: int, f: int, k: int) -> Kernel:
    main = [[1, h, w, c], [f // 16, c, 16], [1, h, w, f // 16, 16]]
    dw = [[1, h + k - 1, w + k - 1, c], [k, k, c], [1, h, w, c]]
    return Kernel("pw", "separable2d", "epilogue",
                  ["dw_init", "dw_main", "epilogue", "init", "main"], main, main[2],
                  {"main": main, "dw_main": dw})


def kernels():
    for h, w in itertools.product(SPATIAL, SPATIAL[3:]):
        for c in CHANNELS[::2]:
            yield depthwise_kernel(h, w, c, 3)
            yield matmul_kernel(h * w, c, c + 8)
            yield conv_kernel(h, w, 3, c, 3)
            if c % 16 == 0:
                yield separable_kernel(h, w, c, c, 3)
        yield matmul_kernel(1, 1024, 1000)


@pytest.mark.parametrize("row", sorted(TARGETS))
def test_default_decisions_pass_their_own_checks(row):
    t = TARGETS[row]
    for k in kernels():
        schedule = SCHEDULES[k.kind]
        chosen = schedule.choose(k, t, {})
        schedule.check(k, t, chosen)
        # restated in a strategy file, the same decisions are the same strategy
        assert schedule.choose(k, t, chosen) == chosen, (k, chosen)


def test_attribute_round_trip():
    values = {"layer": "pw", "pixels": 14, "prefetch": True, "roles": ["init", "main"],
              "kind": "separable2d"}
    with ir.Context():
        assert from_attr(to_attr(values)) == values


def test_strategy_file_fields_are_decisions_of_the_right_type():
    decisions = SCHEDULES["matmul"].decisions
    overrides = Overrides("s.json", {"fc": {"rows": 4, "kind": "matmul"}})
    assert typed_overrides(overrides, "fc", "matmul", decisions) == {"rows": 4}
    for bad, message in [({"rows": "4"}, "a non-negative integer"),
                         ({"prefetch": 1}, "true or false"),
                         ({"kind": "conv2d"}, "cannot change a kernel's kind"),
                         ({"pixels": 4}, "not a decision of a matmul kernel")]:
        with pytest.raises(UserError, match=message) as raised:
            typed_overrides(Overrides("s.json", {"fc": bad}), "fc", "matmul", decisions)
        assert str(raised.value).startswith("s.json: layer 'fc': field '")


def test_every_registered_pass_loads_with_a_summary():
    passes = registry.all_passes()
    assert set(passes) == set(registry.PASS_MODULES)
    assert all(p.summary for p in passes.values())


def test_a_pass_name_declared_twice_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        registry.module_pass("fuse-separable")(lambda module: None)


def test_options_must_be_typed_keyword_only_with_defaults():
    def untyped(module, *, depth=3):
        """Doc."""
    with pytest.raises(ValueError, match="keyword-only, typed"):
        registry.module_pass("test-untyped")(untyped)


def test_pipeline_text_is_parsed_with_typed_options():
    specs = registry.parse_pipeline("fuse-separable{panel-filters=8},lower-to-linalg")
    assert [str(s) for s in specs] == ["fuse-separable{panel-filters=8}", "lower-to-linalg"]
    assert specs[0].options == {"panel-filters": 8}
    with pytest.raises(UserError, match="unknown pass 'nope'"):
        registry.parse_pipeline("nope")
