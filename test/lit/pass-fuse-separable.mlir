// fuse-separable: a 1x1 conv fed only by a depthwise conv is marked to lower as one kernel
// with it (the panel width, 16 filters, as the attribute's value). Filters that are no
// multiple of the panel fuse when a last panel padded with zero filters adds at most half
// as many (72 -> 80); 8 -> 16 would double them and stays two kernels.
// RUN: %sepc opt %s --passes=fuse-separable | FileCheck %s
// RUN: %sepc opt %s --passes='fuse-separable{panel-filters=8}' | FileCheck %s --check-prefix=EIGHT

// CHECK-LABEL: func.func @padded(
// CHECK:         "sep.depthwise_conv2d"{{.*}}sep.fused_into_consumer
// CHECK:         "sep.conv2d"{{.*}}sep.fused_depthwise = 16
// EIGHT-LABEL:   func.func @padded(
// EIGHT:         "sep.conv2d"{{.*}}sep.fused_depthwise = 8
func.func @padded(%x: tensor<1x4x4x16xf32>) -> tensor<1x4x4x72xf32> {
  %dk = arith.constant dense<1.0> : tensor<3x3x16x1xf32>
  %db = arith.constant dense<0.0> : tensor<16xf32>
  %k = arith.constant dense<1.0> : tensor<1x1x16x72xf32>
  %b = arith.constant dense<0.0> : tensor<72xf32>
  %0 = "sep.depthwise_conv2d"(%x, %dk, %db) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "linear"} : (tensor<1x4x4x16xf32>, tensor<3x3x16x1xf32>, tensor<16xf32>) -> tensor<1x4x4x16xf32> loc("dw")
  %1 = "sep.conv2d"(%0, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu6"} : (tensor<1x4x4x16xf32>, tensor<1x1x16x72xf32>, tensor<72xf32>) -> tensor<1x4x4x72xf32> loc("pw")
  return %1 : tensor<1x4x4x72xf32>
}

// CHECK-LABEL: func.func @too_much_padding(
// CHECK-NOT:     sep.fused
// EIGHT-LABEL:   func.func @too_much_padding(
// EIGHT:         "sep.conv2d"{{.*}}sep.fused_depthwise = 8
func.func @too_much_padding(%x: tensor<1x4x4x16xf32>) -> tensor<1x4x4x8xf32> {
  %dk = arith.constant dense<1.0> : tensor<3x3x16x1xf32>
  %db = arith.constant dense<0.0> : tensor<16xf32>
  %k = arith.constant dense<1.0> : tensor<1x1x16x8xf32>
  %b = arith.constant dense<0.0> : tensor<8xf32>
  %0 = "sep.depthwise_conv2d"(%x, %dk, %db) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "linear"} : (tensor<1x4x4x16xf32>, tensor<3x3x16x1xf32>, tensor<16xf32>) -> tensor<1x4x4x16xf32> loc("dw")
  %1 = "sep.conv2d"(%0, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu6"} : (tensor<1x4x4x16xf32>, tensor<1x1x16x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32> loc("pw")
  return %1 : tensor<1x4x4x8xf32>
}

