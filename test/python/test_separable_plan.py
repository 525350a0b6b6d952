"""The fused separable kernel's cost model (schedules/separable.py) on the benchmark shapes:
its register blocks fit the register file, its tiles divide the layer, two threads always
have work, and large weights are split by filters rather than re-read per row tile; then
each named decision on its own, and decisions a strategy file fixes."""
import math

import pytest

from sepc.schedules import separable
from sepc.schedules.kernel import Kernel
from sepc.schedules.separable import Separable
from sepc.schedules.strategy import StrategyError
from sepc.targets import TARGETS

PANEL = 16
TILE_BYTES = TARGETS["x86-avx512"].memory.tile_budget


class Plan:
    """The chosen decisions as attributes (plan.pixels, ...)."""

    def __init__(self, chosen):
        self.__dict__.update(chosen)


def choose(k, t, fixed=None):
    chosen = separable.choose(k, t, fixed or {})
    separable.check(k, t, chosen)
    return Plan(chosen)

# (H, W or None for 1-D, C, F, kernel, stride)
SHAPES = {
    "A": (112, 112, 32, 64, 3, 1), "B": (112, 112, 64, 128, 3, 2),
    "C": (56, 56, 128, 128, 3, 1), "D": (28, 28, 256, 256, 3, 1),
    "E": (14, 14, 512, 512, 3, 1), "F": (7, 7, 1024, 1024, 3, 1),
    "K1D": (16000, None, 64, 64, 9, 1), "small": (8, 8, 16, 32, 3, 1),
}


def kernel(h, w, c, f, k, stride) -> Kernel:
    if w is None:                                  # 1-D: (1, L, C)
        out = [1, h // stride]
        x_pad = [1, h + k - 1]
        dw_kernel = [k, c]
    else:
        out = [1, h // stride, w // stride]
        x_pad = [1, h + k - 1, w + k - 1]
        dw_kernel = [k, k, c]
    main = [out + [c], [f // PANEL, c, PANEL], out + [f // PANEL, PANEL]]
    return Kernel("pw", "separable2d" if w else "separable1d", "epilogue",
                  ["dw_init", "dw_main", "epilogue", "init", "main"], main, main[2],
                  {"main": main, "dw_main": [x_pad + [c], dw_kernel, out + [c]]})


@pytest.mark.parametrize("target_row", ["x86-avx512", "x86-avx2"])
@pytest.mark.parametrize("name", sorted(SHAPES))
def test_plan_fits_and_divides(name, target_row):
    t = TARGETS[target_row]
    k = kernel(*SHAPES[name])
    plan = choose(k, t)
    out = k.operand_shapes["main"][0][1:-1]
    width, channels = out[-1], k.operand_shapes["main"][0][-1]
    panels = k.operand_shapes["main"][1][0]
    vectors = plan.panels * max(PANEL // t.lanes, 1)
    # accumulators + one step's weight vectors + one broadcast pixel
    assert plan.block_rows * plan.pixels * vectors + vectors + 1 <= t.registers
    # the depthwise block: accumulators + the input row it reads
    stride, window = SHAPES[name][5], SHAPES[name][4]
    assert plan.pixels % plan.dw_pixels == 0
    assert plan.dw_pixels + stride * (plan.dw_pixels - 1) + window <= t.registers
    # a block not dividing the width works along whole rows, its last piece narrower
    assert (width % plan.pixels == 0 or plan.cols == width) and panels % plan.tile_panels == 0
    assert plan.tile_panels % plan.panels == 0
    rows_total = out[0] if len(out) == 2 else width // plan.pixels
    assert rows_total % plan.rows == 0
    cols = plan.cols if len(out) == 2 else plan.pixels
    assert width % cols == 0 and (cols % plan.pixels == 0 or cols == width)
    assert plan.rows == 1 or plan.rows * cols * channels * 4 <= TILE_BYTES
    tiles = (rows_total // plan.rows) * (width // cols if len(out) == 2 else 1) \
        * (panels // plan.tile_panels)
    assert tiles >= 2


def test_large_weights_split_filters_not_rows():
    """7x7x1024 -> 1024: 4 MiB of weights against 0.2 MiB of input per tile."""
    plan = choose(kernel(*SHAPES["F"]), TARGETS["x86-avx512"])
    assert (plan.rows, plan.pixels) == (7, 7)
    assert plan.tile_panels == 1024 // PANEL // 2


def test_small_weights_split_rows_not_filters():
    """A 14x14 layer with few filters: re-reading its small weights is cheaper than
    recomputing its depthwise tile."""
    plan = choose(kernel(14, 14, 512, 64, 3, 1), TARGETS["x86-avx512"])
    assert plan.tile_panels == 64 // PANEL
    assert plan.rows < 14


def test_register_block_uses_most_of_the_register_file():
    """AVX-512 on a 56-wide layer: 14 pixels x 2 panels = 28 of 32 zmm accumulate."""
    plan = choose(kernel(*SHAPES["C"]), TARGETS["x86-avx512"])
    assert plan.pixels * plan.panels == 28
    assert math.gcd(plan.pixels, 56) == plan.pixels


def test_wide_layers_tile_in_bands_of_whole_rows():
    """56x56x128: bands of whole rows (their input is contiguous), an even count of them."""
    plan = choose(kernel(*SHAPES["C"]), TARGETS["x86-avx512"])
    assert plan.cols == 56
    assert (56 // plan.rows) % 2 == 0


@pytest.mark.parametrize("shape, rows, block_rows", [
    (SHAPES["F"], 7, 2), (SHAPES["E"], 7, 1), (SHAPES["D"], 7, 1), (SHAPES["A"], 14, 1),
    ((7, 7, 128, 256, 3, 1), 7, 2), ((5, 7, 128, 256, 3, 1), 5, 2), ((6, 6, 64, 32, 3, 1), 3, 2)])
def test_narrow_layers_block_two_rows(shape, rows, block_rows):
    # 7 pixels x 2 panels fill only 14 of 32 zmm: two rows make it 28 (an odd last row of
    # the tile is split off); wider layers already fill the registers in one row. The
    # small shapes are the ones test_ops.py runs.
    plan = choose(kernel(*shape), TARGETS["x86-avx512"])
    assert (plan.rows, plan.block_rows) == (rows, block_rows)


@pytest.mark.parametrize("name, dw_pixels", [("A", 14), ("B", 7), ("K1D", 5)])
def test_depthwise_block_keeps_its_input_row_in_registers(name, dw_pixels):
    # stride 2 reads 2p + 1 input vectors: 14 pixels would need 43 registers
    plan = choose(kernel(*SHAPES[name]), TARGETS["x86-avx512"])
    assert plan.dw_pixels == dw_pixels


@pytest.mark.parametrize("name, band", [("E", 14), ("F", 7), ("C", 14), ("D", 14), ("A", 14),
                                        ("B", 0), ("K1D", 0)])
def test_depthwise_channel_vectors_outside_rows_where_they_fit_l1(name, band):
    """One channel vector of E's 9x16-pixel tile input is 9 KiB: it stays in L1 while the
    rows reuse it. C's whole tile (9x58 pixels, 33 KiB) would not: it is done in bands of
    14 columns (9x16 pixels). B's stride-2 rows of 7-pixel blocks read 27x15 pixels of
    input for one band (26 KiB): its rows stay outside."""
    plan = choose(kernel(*SHAPES[name]), TARGETS["x86-avx512"])
    assert plan.dw_band == band
    if band:
        assert plan.cols % band == 0 and band % plan.dw_pixels == 0


# --- each decision on its own ----------------------------------------------------------

AVX512, AVX2 = TARGETS["x86-avx512"], TARGETS["x86-avx2"]


def test_register_block_fills_the_register_file_and_divides_the_width():
    k = kernel(*SHAPES["C"])
    assert separable.register_block(k, AVX512, {}) == (14, 2)     # 28 of 32 zmm accumulate
    # AVX2 has 16 ymm of 8 lanes: a panel is 2 vectors, so 6 pixels x 1 panel = 12 + 3
    pixels, panels = separable.register_block(k, AVX2, {})
    assert separable.accumulator_registers(k, AVX2, pixels, panels) <= 16
    assert 56 % pixels == 0


def test_register_block_keeps_a_fixed_pixel_count():
    k = kernel(*SHAPES["C"])
    assert separable.register_block(k, AVX512, {"pixels": 7}) == (7, 2)


def test_tile_columns_are_whole_rows_when_two_fit_the_budget():
    assert separable.tile_columns(kernel(*SHAPES["C"]), AVX512, 14) == 56
    # 14x14x512: two whole rows are 56 KiB; still within 256 KiB
    assert separable.tile_columns(kernel(*SHAPES["E"]), AVX512, 14) == 14
    assert separable.tile_columns(kernel(*SHAPES["K1D"]), AVX512, 5) == 5   # 1-D: one block


def test_tile_rows_keep_the_depthwise_buffer_in_the_budget_and_even():
    k = kernel(*SHAPES["C"])
    rows = separable.tile_rows(k, AVX512, 14, 56)
    assert rows * 56 * 128 * 4 <= TILE_BYTES and (56 // rows) % 2 == 0


def test_split_for_threads_splits_filters_of_heavy_weights():
    k = kernel(*SHAPES["F"])                          # 4 MiB of weights, 7 rows
    rows, tile_panels = separable.split_for_threads(k, AVX512, 7, 2, 7, 7, {})
    assert (rows, tile_panels) == (7, 32)


def test_split_for_threads_respects_fixed_tile_panels():
    k = kernel(*SHAPES["F"])
    rows, tile_panels = separable.split_for_threads(k, AVX512, 7, 2, 7, 7, {"tile_panels": 64})
    assert tile_panels == 64 and rows < 7             # the rows are split instead


def test_two_row_blocks_only_where_one_row_leaves_registers_free():
    assert separable.two_row_blocks(kernel(*SHAPES["F"]), AVX512, 7, 2, 7, 7) == 2
    assert separable.two_row_blocks(kernel(*SHAPES["E"]), AVX512, 14, 2, 7, 14) == 1


def test_depthwise_band_fits_half_of_l1():
    k = kernel(*SHAPES["C"])
    band = separable.depthwise_band(k, AVX512, 7, 56, 14)
    assert band == 14
    assert separable.depthwise_input_bytes(k, AVX512, 7, band) <= AVX512.memory.l1d // 2


def test_prefetch_only_large_weights_with_a_next_block():
    assert separable.prefetch(kernel(*SHAPES["E"]), AVX512, 2, 8)        # 1 MiB
    assert not separable.prefetch(kernel(*SHAPES["C"]), AVX512, 2, 8)    # 64 KiB
    assert not separable.prefetch(kernel(*SHAPES["E"]), AVX512, 8, 8)    # one block per tile


def test_ragged_channels_cut_the_depthwise_tile_without_bands():
    k = kernel(10, 10, 184, 32, 3, 1)
    plan = separable.choose(k, AVX512, {})
    assert plan["dw_band"] == 0
    assert Separable(2).facts(k, AVX512, plan)["dw_channels"] == 184
    assert "dw_channels" not in Separable(2).facts(kernel(*SHAPES["C"]), AVX512, plan)


def test_fixed_decisions_are_kept_and_later_ones_follow():
    plan = choose(kernel(*SHAPES["C"]), AVX512, {"pixels": 7})
    assert plan.pixels == 7 and plan.cols % 7 == 0 and 7 % plan.dw_pixels == 0


@pytest.mark.parametrize("fixed, field", [
    ({"pixels": 60}, "pixels"),                        # wider than the 56 columns
    ({"pixels": 5, "cols": 28}, "pixels"),             # a ragged block needs whole rows
    ({"pixels": 56}, "pixels"),                        # 56 x 2 panels spill
    ({"rows": 5}, "rows"),
    ({"block_rows": 3}, "block_rows"),
    ({"dw_band": 3}, "dw_band"),
    ({"tile_panels": 3}, "tile_panels"),
])
def test_decisions_that_cannot_be_honoured_are_refused(fixed, field):
    k = kernel(*SHAPES["C"])
    chosen = separable.choose(k, AVX512, fixed)
    with pytest.raises(StrategyError) as raised:
        separable.check(k, AVX512, chosen)
    assert raised.value.field == field


def test_a_width_with_only_tiny_dividing_blocks_takes_a_ragged_block():
    """74 columns (Xception at 150x150) divide into blocks of 2: 14-pixel blocks with a
    last piece of 4 hold 28 accumulators (pieces.py), 2.4x faster measured."""
    plan = choose(kernel(74, 74, 256, 256, 3, 1), AVX512)
    assert (plan.pixels, plan.panels, plan.cols) == (14, 2, 74)
