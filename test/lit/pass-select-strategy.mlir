// select-strategy writes each kernel's decisions onto its root op (sep.strategy), per
// target, from the tagged Linalg chains that lower-to-linalg builds (written by hand here).
// RUN: %sepc opt %s --passes='select-strategy{target=x86-avx512}' | FileCheck %s --check-prefixes=CHECK,AVX512
// RUN: %sepc opt %s --passes='select-strategy{target=x86-avx2}' | FileCheck %s --check-prefixes=CHECK,AVX2
// RUN: %sepc opt %s --passes='select-strategy{target=arm-neon}' | FileCheck %s --check-prefixes=CHECK,NEON
// RUN: %sepc opt %s --passes='select-strategy{target=arm-sve}' | FileCheck %s --check-prefixes=CHECK,SVE

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#id5 = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
#pw_in = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d5)>
#pw_w = affine_map<(d0, d1, d2, d3, d4, d5) -> (d3, d5, d4)>
#pw_out = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>

// A batch-1 dense layer (M = 1): fixed-width targets trade the block's rows for columns,
// 1 row x 16 zmm (AVX-512) or 8 ymm (AVX2, a power of two); SVE keeps its 8 x 2 block.
// 1000 columns are no multiple of the block: the forall takes 2 tiles of 500 (the one row
// leaves no other work for two threads), each cut into pieces of powers of two (pieces).
// CHECK-LABEL: func.func @dense_head(
// AVX512: linalg.matmul {sep.kernel = "matmul", sep.layer = "fc", sep.part = "fc:main", sep.strategy = {forall = [1, 500], kind = "matmul", layer = "fc", peel = false, pieces = {{\[}}[1, 256, 500, 1]], prefetch = true, roles = ["init", "main"], root_loops = 3 : i64, root_role = "main", rows = 1 : i64, vectors = 16 : i64}}
// AVX2:   sep.strategy = {forall = [1, 500], kind = "matmul", layer = "fc", peel = false, pieces = {{\[}}[1, 64, 500, 1]], prefetch = true, roles = ["init", "main"], root_loops = 3 : i64, root_role = "main", rows = 1 : i64, vectors = 8 : i64}
// NEON:   sep.strategy = {forall = [1, 500], kind = "matmul", layer = "fc", peel = false, pieces = {{\[}}[1, 64, 500, 1]], prefetch = true, roles = ["init", "main"], root_loops = 3 : i64, root_role = "main", rows = 1 : i64, vectors = 16 : i64}
// SVE:    sep.strategy = {kind = "matmul", layer = "fc", peel = false, prefetch = true, roles = ["init", "main"], root_role = "main", rows = 8 : i64, vectors = 2 : i64}
func.func @dense_head(%x: tensor<1x1024xf32>, %out: tensor<1x1000xf32>) -> tensor<1x1000xf32> {
  %w = arith.constant dense<5.000000e-01> : tensor<1024x1000xf32>
  %b = arith.constant dense<1.000000e-01> : tensor<1000xf32>
  %init = linalg.broadcast ins(%b : tensor<1000xf32>) outs(%out : tensor<1x1000xf32>) dimensions = [0] {sep.part = "fc:init"}
  %y = linalg.matmul {sep.kernel = "matmul", sep.layer = "fc", sep.part = "fc:main"} ins(%x, %w : tensor<1x1024xf32>, tensor<1024x1000xf32>) outs(%init : tensor<1x1000xf32>) -> tensor<1x1000xf32>
  return %y : tensor<1x1000xf32>
}

// A 1x1 conv on 10x10 pixels (M = 100): the rows divide M (5, no ragged tile), and the
// columns take the rows' share of the block, in a power of two of vectors (3 would be 48
// lanes, which LLVM legalizes into shuffles); SVE's full tiles are peeled off (M % 5 = 0);
// 16 KiB of weights are not prefetched.
// CHECK-LABEL: func.func @pointwise_10x10(
// AVX512: sep.strategy = {kind = "matmul", layer = "pw", peel = false, prefetch = false, roles = ["epilogue", "init", "main"], root_role = "epilogue", rows = 5 : i64, vectors = 2 : i64}
// AVX2:   sep.strategy = {kind = "matmul", layer = "pw", peel = false, prefetch = false, roles = ["epilogue", "init", "main"], root_role = "epilogue", rows = 5 : i64, vectors = 2 : i64}
// NEON:   sep.strategy = {kind = "matmul", layer = "pw", peel = false, prefetch = false, roles = ["epilogue", "init", "main"], root_role = "epilogue", rows = 5 : i64, vectors = 2 : i64}
// SVE:    sep.strategy = {kind = "matmul", layer = "pw", peel = true, prefetch = false, roles = ["epilogue", "init", "main"], root_role = "epilogue", rows = 5 : i64, vectors = 2 : i64}
func.func @pointwise_10x10(%x: tensor<100x64xf32>, %out: tensor<100x64xf32>) -> tensor<100x64xf32> {
  %w = arith.constant dense<5.000000e-01> : tensor<64x64xf32>
  %b = arith.constant dense<1.000000e-01> : tensor<64xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %init = linalg.broadcast ins(%b : tensor<64xf32>) outs(%out : tensor<100x64xf32>) dimensions = [0] {sep.part = "pw:init"}
  %mm = linalg.matmul {sep.part = "pw:main"} ins(%x, %w : tensor<100x64xf32>, tensor<64x64xf32>) outs(%init : tensor<100x64xf32>) -> tensor<100x64xf32>
  %y = linalg.generic {indexing_maps = [#id2], iterator_types = ["parallel", "parallel"]} outs(%mm : tensor<100x64xf32>) attrs = {sep.kernel = "matmul", sep.layer = "pw", sep.part = "pw:epilogue"} {
  ^bb0(%v: f32):
    %r = arith.maximumf %v, %zero : f32
    linalg.yield %r : f32
  } -> tensor<100x64xf32>
  return %y : tensor<100x64xf32>
}

// A 3x3 depthwise conv, 56 wide: 8-pixel rows (a divisor of 56 that fits the registers
// with its window); AVX2's 16 registers take 4 (its row is 6 wide, which 56 is not a
// multiple of).
// CHECK-LABEL: func.func @depthwise_56(
// AVX512: sep.strategy = {kind = "depthwise2d", layer = "dw", roles = ["epilogue", "init", "main"], root_role = "epilogue", width = 8 : i64, window = 3 : i64}
// AVX2:   sep.strategy = {kind = "depthwise2d", layer = "dw", roles = ["epilogue", "init", "main"], root_role = "epilogue", width = 4 : i64, window = 3 : i64}
// NEON:   sep.strategy = {kind = "depthwise2d", layer = "dw", roles = ["epilogue", "init", "main"], root_role = "epilogue", width = 8 : i64, window = 3 : i64}
// SVE:    sep.strategy = {kind = "depthwise2d", layer = "dw", roles = ["epilogue", "init", "main"], root_role = "epilogue", width = 8 : i64, window = 3 : i64}
func.func @depthwise_56(%x: tensor<1x58x58x32xf32>, %out: tensor<1x56x56x32xf32>) -> tensor<1x56x56x32xf32> {
  %k = arith.constant dense<5.000000e-01> : tensor<3x3x32xf32>
  %b = arith.constant dense<1.000000e-01> : tensor<32xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %six = arith.constant 6.000000e+00 : f32
  %init = linalg.broadcast ins(%b : tensor<32xf32>) outs(%out : tensor<1x56x56x32xf32>) dimensions = [0, 1, 2] {sep.part = "dw:init"}
  %dw = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, sep.part = "dw:main", strides = dense<1> : tensor<2xi64>} ins(%x, %k : tensor<1x58x58x32xf32>, tensor<3x3x32xf32>) outs(%init : tensor<1x56x56x32xf32>) -> tensor<1x56x56x32xf32>
  %y = linalg.generic {indexing_maps = [#id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%dw : tensor<1x56x56x32xf32>) attrs = {sep.kernel = "depthwise2d", sep.layer = "dw", sep.part = "dw:epilogue"} {
  ^bb0(%v: f32):
    %r = arith.maximumf %v, %zero : f32
    %s = arith.minimumf %r, %six : f32
    linalg.yield %s : f32
  } -> tensor<1x56x56x32xf32>
  return %y : tensor<1x56x56x32xf32>
}

// A 5x5 depthwise conv, 7 wide and linear (the conv itself is the root): one row of 7.
// 24 channels are no multiple of AVX-512's 16 lanes: a forall tile has all 24, cut into
// pieces of 16 and 8 (pieces); 4-lane NEON and scalable SVE need no cut.
// CHECK-LABEL: func.func @depthwise_7x7_k5(
// AVX512: sep.strategy = {forall = [1, 1, 7, 24], kind = "depthwise2d", layer = "dw7", pieces = {{\[}}[3, 16, 24, 1]], roles = ["init", "main"], root_loops = 6 : i64, root_role = "main", width = 7 : i64, window = 5 : i64}
// AVX2:   sep.strategy = {kind = "depthwise2d", layer = "dw7", roles = ["init", "main"], root_role = "main", width = 7 : i64, window = 5 : i64}
// NEON:   sep.strategy = {kind = "depthwise2d", layer = "dw7", roles = ["init", "main"], root_role = "main", width = 7 : i64, window = 5 : i64}
// SVE:    sep.strategy = {kind = "depthwise2d", layer = "dw7", roles = ["init", "main"], root_role = "main", width = 7 : i64, window = 5 : i64}
func.func @depthwise_7x7_k5(%x: tensor<1x11x11x24xf32>, %out: tensor<1x7x7x24xf32>) -> tensor<1x7x7x24xf32> {
  %k = arith.constant dense<5.000000e-01> : tensor<5x5x24xf32>
  %zero = arith.constant 0.000000e+00 : f32
  %init = linalg.fill {sep.part = "dw7:init"} ins(%zero : f32) outs(%out : tensor<1x7x7x24xf32>) -> tensor<1x7x7x24xf32>
  %dw = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, sep.kernel = "depthwise2d", sep.layer = "dw7", sep.part = "dw7:main", strides = dense<1> : tensor<2xi64>} ins(%x, %k : tensor<1x11x11x24xf32>, tensor<5x5x24xf32>) outs(%init : tensor<1x7x7x24xf32>) -> tensor<1x7x7x24xf32>
  return %dw : tensor<1x7x7x24xf32>
}

// A fused separable kernel, 28x28x256 -> 256 (fuse-separable's chain, weights packed in
// 16 panels of 16): AVX-512 blocks 14 pixels x 2 panels (28 of 32 zmm), tiles of 7 rows
// x 28 columns x 16 panels, the depthwise tile in bands of 14 columns; 1 MiB of weights
// are prefetched. AVX2's 16 ymm: 2 pixels x 2 panels of 2 vectors (8 accumulators).
// CHECK-LABEL: func.func @separable_28(
// AVX512: sep.strategy = {block_rows = 1 : i64, cols = 28 : i64, dw_band = 14 : i64, dw_pixels = 14 : i64, kind = "separable2d", layer = "spw", panel = 16 : i64, panels = 2 : i64, pixels = 14 : i64, prefetch = true, roles = ["dw_epilogue", "dw_init", "dw_main", "dw_pad", "epilogue", "init", "main"], root_role = "epilogue", rows = 7 : i64, tile_panels = 16 : i64, window = 3 : i64}
// AVX2:   sep.strategy = {block_rows = 1 : i64, cols = 28 : i64, dw_band = 28 : i64, dw_pixels = 2 : i64, kind = "separable2d", layer = "spw", panel = 16 : i64, panels = 2 : i64, pixels = 2 : i64, prefetch = true, roles = ["dw_epilogue", "dw_init", "dw_main", "dw_pad", "epilogue", "init", "main"], root_role = "epilogue", rows = 7 : i64, tile_panels = 16 : i64, window = 3 : i64}
func.func @separable_28(%x: tensor<1x28x28x256xf32>, %out: tensor<1x28x28x256xf32>) -> tensor<1x28x28x256xf32> {
  %zero = arith.constant 0.000000e+00 : f32
  %six = arith.constant 6.000000e+00 : f32
  %k = arith.constant dense<5.000000e-01> : tensor<3x3x256xf32>
  %db = arith.constant dense<1.000000e-01> : tensor<256xf32>
  %w = arith.constant dense<5.000000e-01> : tensor<16x256x16xf32>
  %pb = arith.constant dense<1.000000e-01> : tensor<16x16xf32>
  %padded = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %l: index, %m: index):
    tensor.yield %zero : f32
  } {sep.part = "spw:dw_pad"} : tensor<1x28x28x256xf32> to tensor<1x30x30x256xf32>
  %mid = tensor.empty() : tensor<1x28x28x256xf32>
  %dinit = linalg.broadcast ins(%db : tensor<256xf32>) outs(%mid : tensor<1x28x28x256xf32>) dimensions = [0, 1, 2] {sep.part = "spw:dw_init"}
  %dw = linalg.depthwise_conv_2d_nhwc_hwc {dilations = dense<1> : tensor<2xi64>, sep.part = "spw:dw_main", strides = dense<1> : tensor<2xi64>} ins(%padded, %k : tensor<1x30x30x256xf32>, tensor<3x3x256xf32>) outs(%dinit : tensor<1x28x28x256xf32>) -> tensor<1x28x28x256xf32>
  %dact = linalg.generic {indexing_maps = [#id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} outs(%dw : tensor<1x28x28x256xf32>) attrs = {sep.part = "spw:dw_epilogue"} {
  ^bb0(%v: f32):
    %r = arith.maximumf %v, %zero : f32
    %s = arith.minimumf %r, %six : f32
    linalg.yield %s : f32
  } -> tensor<1x28x28x256xf32>
  %blocked = tensor.expand_shape %out [[0], [1], [2], [3, 4]] output_shape [1, 28, 28, 16, 16] : tensor<1x28x28x256xf32> into tensor<1x28x28x16x16xf32>
  %pinit = linalg.broadcast ins(%pb : tensor<16x16xf32>) outs(%blocked : tensor<1x28x28x16x16xf32>) dimensions = [0, 1, 2] {sep.part = "spw:init"}
  %pw = linalg.generic {indexing_maps = [#pw_in, #pw_w, #pw_out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%dact, %w : tensor<1x28x28x256xf32>, tensor<16x256x16xf32>) outs(%pinit : tensor<1x28x28x16x16xf32>) attrs = {sep.part = "spw:main"} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %q = arith.addf %acc, %p : f32
    linalg.yield %q : f32
  } -> tensor<1x28x28x16x16xf32>
  %y = linalg.generic {indexing_maps = [#id5], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} outs(%pw : tensor<1x28x28x16x16xf32>) attrs = {sep.kernel = "separable2d", sep.layer = "spw", sep.part = "spw:epilogue"} {
  ^bb0(%v: f32):
    %r = arith.maximumf %v, %zero : f32
    %s = arith.minimumf %r, %six : f32
    linalg.yield %s : f32
  } -> tensor<1x28x28x16x16xf32>
  %flat = tensor.collapse_shape %y [[0], [1], [2], [3, 4]] : tensor<1x28x28x16x16xf32> into tensor<1x28x28x256xf32>
  return %flat : tensor<1x28x28x256xf32>
}
