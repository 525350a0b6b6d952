// pack-matmul-weights: lone 1x1 convs and dense layers are marked to lower with their
// weights packed in panels (the panel width, 16 filters, as the attribute's value): filters
// a multiple of the panel, or a single row padded to one (a batch-1 dense head). A 1x1 conv
// fused with its depthwise conv, one with ragged filters on many rows, a softmax head and a
// conv with a window stay as they are.
// RUN: %sepc opt %s --passes=fuse-separable,pack-matmul-weights | FileCheck %s
// RUN: %sepc opt %s --passes='pack-matmul-weights{panel-filters=8}' | FileCheck %s --check-prefix=EIGHT

// CHECK-LABEL: func.func @lone_pointwise(
// CHECK:         "sep.conv2d"{{.*}}sep.packed_panel = 16
// CHECK-NOT:     sep.packed_panel
// CHECK:         return
// EIGHT-LABEL:   func.func @lone_pointwise(
// EIGHT:         "sep.conv2d"{{.*}}sep.packed_panel = 8
// EIGHT:         "sep.conv2d"{{.*}}sep.packed_panel = 8
func.func @lone_pointwise(%x: tensor<1x4x4x16xf32>) -> tensor<1x4x4x24xf32> {
  %k = arith.constant dense<1.0> : tensor<1x1x16x32xf32>
  %b = arith.constant dense<0.0> : tensor<32xf32>
  %k2 = arith.constant dense<1.0> : tensor<1x1x32x24xf32>
  %b2 = arith.constant dense<0.0> : tensor<24xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu6"} : (tensor<1x4x4x16xf32>, tensor<1x1x16x32xf32>, tensor<32xf32>) -> tensor<1x4x4x32xf32> loc("pw")
  %1 = "sep.conv2d"(%0, %k2, %b2) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x4x4x32xf32>, tensor<1x1x32x24xf32>, tensor<24xf32>) -> tensor<1x4x4x24xf32> loc("ragged")
  return %1 : tensor<1x4x4x24xf32>
}

// CHECK-LABEL: func.func @fused_and_window(
// CHECK:         "sep.conv2d"{{.*}}sep.fused_depthwise = 16
// CHECK-NOT:     sep.packed_panel
// CHECK:         "sep.conv2d"
// CHECK-NOT:     sep.packed_panel
// CHECK:         return
func.func @fused_and_window(%x: tensor<1x4x4x16xf32>) -> tensor<1x4x4x32xf32> {
  %dk = arith.constant dense<1.0> : tensor<3x3x16x1xf32>
  %db = arith.constant dense<0.0> : tensor<16xf32>
  %k = arith.constant dense<1.0> : tensor<1x1x16x32xf32>
  %k3 = arith.constant dense<1.0> : tensor<3x3x32x32xf32>
  %b = arith.constant dense<0.0> : tensor<32xf32>
  %0 = "sep.depthwise_conv2d"(%x, %dk, %db) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "linear"} : (tensor<1x4x4x16xf32>, tensor<3x3x16x1xf32>, tensor<16xf32>) -> tensor<1x4x4x16xf32> loc("dw")
  %1 = "sep.conv2d"(%0, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu6"} : (tensor<1x4x4x16xf32>, tensor<1x1x16x32xf32>, tensor<32xf32>) -> tensor<1x4x4x32xf32> loc("pw")
  %2 = "sep.conv2d"(%1, %k3, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x4x4x32xf32>, tensor<3x3x32x32xf32>, tensor<32xf32>) -> tensor<1x4x4x32xf32> loc("conv")
  return %2 : tensor<1x4x4x32xf32>
}

// CHECK-LABEL: func.func @dense_heads(
// CHECK:         "sep.dense"{{.*}}sep.packed_panel = 16
// CHECK-NOT:     sep.packed_panel
// CHECK:         return
func.func @dense_heads(%x: tensor<1x64xf32>) -> tensor<1x10xf32> {
  %k = arith.constant dense<1.0> : tensor<64x12xf32>
  %b = arith.constant dense<0.0> : tensor<12xf32>
  %k2 = arith.constant dense<1.0> : tensor<12x10xf32>
  %b2 = arith.constant dense<0.0> : tensor<10xf32>
  %0 = "sep.dense"(%x, %k, %b) {activation = "relu"} : (tensor<1x64xf32>, tensor<64x12xf32>, tensor<12xf32>) -> tensor<1x12xf32> loc("padded")
  %1 = "sep.dense"(%0, %k2, %b2) {activation = "softmax"} : (tensor<1x12xf32>, tensor<12x10xf32>, tensor<10xf32>) -> tensor<1x10xf32> loc("softmax")
  return %1 : tensor<1x10xf32>
}
