"""The fused separable kernel's cost model (schedules/separable.py) on the benchmark shapes:
its register blocks fit the register file, its tiles divide the layer, two threads always
have work, and large weights are split by filters rather than re-read per row tile."""
import math

import pytest

from sepc.passes.fuse_separable import PANEL
from sepc.schedules.kernel import Kernel
from sepc.schedules.separable import TILE_BYTES, SeparablePlan
from sepc.targets import TARGETS

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
    plan = SeparablePlan.choose(k, t)
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
    assert width % plan.pixels == 0 and panels % plan.tile_panels == 0
    assert plan.tile_panels % plan.panels == 0
    rows_total = out[0] if len(out) == 2 else width // plan.pixels
    assert rows_total % plan.rows == 0
    cols = plan.cols if len(out) == 2 else plan.pixels
    assert width % cols == 0 and cols % plan.pixels == 0
    assert plan.rows == 1 or plan.rows * cols * channels * 4 <= TILE_BYTES
    tiles = (rows_total // plan.rows) * (width // cols if len(out) == 2 else 1) \
        * (panels // plan.tile_panels)
    assert tiles >= 2


def test_large_weights_split_filters_not_rows():
    """7x7x1024 -> 1024: 4 MiB of weights against 0.2 MiB of input per tile."""
    plan = SeparablePlan.choose(kernel(*SHAPES["F"]), TARGETS["x86-avx512"])
    assert (plan.rows, plan.pixels) == (7, 7)
    assert plan.tile_panels == 1024 // PANEL // 2


def test_small_weights_split_rows_not_filters():
    """A 14x14 layer with few filters: re-reading its small weights is cheaper than
    recomputing its depthwise tile."""
    plan = SeparablePlan.choose(kernel(14, 14, 512, 64, 3, 1), TARGETS["x86-avx512"])
    assert plan.tile_panels == 64 // PANEL
    assert plan.rows < 14


def test_register_block_uses_most_of_the_register_file():
    """AVX-512 on a 56-wide layer: 14 pixels x 2 panels = 28 of 32 zmm accumulate."""
    plan = SeparablePlan.choose(kernel(*SHAPES["C"]), TARGETS["x86-avx512"])
    assert plan.pixels * plan.panels == 28
    assert math.gcd(plan.pixels, 56) == plan.pixels


def test_wide_layers_tile_in_bands_of_whole_rows():
    """56x56x128: bands of whole rows (their input is contiguous), an even count of them."""
    plan = SeparablePlan.choose(kernel(*SHAPES["C"]), TARGETS["x86-avx512"])
    assert plan.cols == 56
    assert (56 // plan.rows) % 2 == 0


@pytest.mark.parametrize("shape, rows, block_rows", [
    (SHAPES["F"], 7, 2), (SHAPES["E"], 7, 1), (SHAPES["D"], 7, 1), (SHAPES["A"], 14, 1),
    ((7, 7, 128, 256, 3, 1), 7, 2), ((5, 7, 128, 256, 3, 1), 5, 2), ((6, 6, 64, 32, 3, 1), 3, 2)])
def test_narrow_layers_block_two_rows(shape, rows, block_rows):
    # 7 pixels x 2 panels fill only 14 of 32 zmm: two rows make it 28 (an odd last row of
    # the tile is split off); wider layers already fill the registers in one row. The
    # small shapes are the ones test_ops.py runs.
    plan = SeparablePlan.choose(kernel(*shape), TARGETS["x86-avx512"])
    assert (plan.rows, plan.block_rows) == (rows, block_rows)


@pytest.mark.parametrize("name, dw_pixels", [("A", 14), ("B", 7), ("K1D", 5)])
def test_depthwise_block_keeps_its_input_row_in_registers(name, dw_pixels):
    # stride 2 reads 2p + 1 input vectors: 14 pixels would need 43 registers
    plan = SeparablePlan.choose(kernel(*SHAPES[name]), TARGETS["x86-avx512"])
    assert plan.dw_pixels == dw_pixels


@pytest.mark.parametrize("name, band", [("E", 14), ("F", 7), ("C", 14), ("D", 14), ("A", 14),
                                        ("B", 0), ("K1D", 0)])
def test_depthwise_channel_vectors_outside_rows_where_they_fit_l1(name, band):
    """One channel vector of E's 9x16-pixel tile input is 9 KiB: it stays in L1 while the
    rows reuse it. C's whole tile (9x58 pixels, 33 KiB) would not: it is done in bands of
    14 columns (9x16 pixels). B's stride-2 rows of 7-pixel blocks read 27x15 pixels of
    input for one band (26 KiB): its rows stay outside."""
    plan = SeparablePlan.choose(kernel(*SHAPES[name]), TARGETS["x86-avx512"])
    assert plan.dw_band == band
    if band:
        assert plan.cols % band == 0 and band % plan.dw_pixels == 0
