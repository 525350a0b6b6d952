// sepc opt must accept IR whose ops carry no name location (plain hand-written IR, or
// IR printed without locations). Today split-separable reads `op.location.name_str`,
// which crashes the bindings (SIGSEGV) on a file:line:col location.
// XFAIL: *
// RUN: %sepc opt %s --passes=split-separable | FileCheck %s

// CHECK-LABEL: func.func @no_name_loc(
// CHECK:         "sep.depthwise_conv2d"
// CHECK-NEXT:    "sep.conv2d"
func.func @no_name_loc(%x: tensor<1x4x4x2xf32>) -> tensor<1x2x2x4xf32> {
  %dw = arith.constant dense<1.0> : tensor<3x3x2x1xf32>
  %pw = arith.constant dense<1.0> : tensor<1x1x2x4xf32>
  %b = arith.constant dense<0.0> : tensor<4xf32>
  %0 = "sep.separable_conv2d"(%x, %dw, %pw, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x4x4x2xf32>, tensor<3x3x2x1xf32>, tensor<1x1x2x4xf32>, tensor<4xf32>) -> tensor<1x2x2x4xf32>
  return %0 : tensor<1x2x2x4xf32>
}
