// RUN: %sepc opt %s --passes=split-separable,verify-sep | FileCheck %s

// A separable conv becomes a depthwise conv (the separable's strides, dilations and
// padding; no activation; a zero bias over the C*M mid channels) feeding a 1x1 conv
// (unit strides and dilations, no padding; the separable's bias and activation).

// CHECK-LABEL: func.func @sep2d(
// CHECK-SAME:      %[[X:[a-z0-9]+]]: tensor<1x8x8x4xf32>
// CHECK-DAG:     %[[DWK:.*]] = arith.constant dense<1.000000e+00> : tensor<3x3x4x2xf32>
// CHECK-DAG:     %[[PWK:.*]] = arith.constant dense<5.000000e-01> : tensor<1x1x8x6xf32>
// CHECK-DAG:     %[[BIAS:.*]] = arith.constant dense<2.500000e-01> : tensor<6xf32>
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<8xf32>
// CHECK-NOT:     sep.separable_conv2d
// CHECK:         %[[DW:.*]] = "sep.depthwise_conv2d"(%[[X]], %[[DWK]], %[[ZERO]])
// CHECK-SAME:      activation = "linear"
// CHECK-SAME:      dilations = array<i64: 1, 2>
// CHECK-SAME:      padding = array<i64: 0, 1, 2, 2>
// CHECK-SAME:      strides = array<i64: 2, 1>
// CHECK-SAME:      (tensor<1x8x8x4xf32>, tensor<3x3x4x2xf32>, tensor<8xf32>) -> tensor<1x4x8x8xf32>
// CHECK-NEXT:    %[[PW:.*]] = "sep.conv2d"(%[[DW]], %[[PWK]], %[[BIAS]])
// CHECK-SAME:      activation = "relu6"
// CHECK-SAME:      dilations = array<i64: 1, 1>
// CHECK-SAME:      padding = array<i64: 0, 0, 0, 0>
// CHECK-SAME:      strides = array<i64: 1, 1>
// CHECK-SAME:      (tensor<1x4x8x8xf32>, tensor<1x1x8x6xf32>, tensor<6xf32>) -> tensor<1x4x8x6xf32>
// CHECK-NEXT:    return %[[PW]] : tensor<1x4x8x6xf32>
func.func @sep2d(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x8x6xf32> {
  %dw = arith.constant dense<1.0> : tensor<3x3x4x2xf32>
  %pw = arith.constant dense<0.5> : tensor<1x1x8x6xf32>
  %b = arith.constant dense<0.25> : tensor<6xf32>
  %0 = "sep.separable_conv2d"(%x, %dw, %pw, %b) {strides = array<i64: 2, 1>, dilations = array<i64: 1, 2>, padding = array<i64: 0, 1, 2, 2>, activation = "relu6"} : (tensor<1x8x8x4xf32>, tensor<3x3x4x2xf32>, tensor<1x1x8x6xf32>, tensor<6xf32>) -> tensor<1x4x8x6xf32> loc("sc2")
  return %0 : tensor<1x4x8x6xf32>
}

// CHECK-LABEL: func.func @sep1d(
// CHECK-SAME:      %[[X:[a-z0-9]+]]: tensor<1x16x8xf32>
// CHECK-DAG:     %[[DWK:.*]] = arith.constant dense<1.000000e+00> : tensor<3x8x1xf32>
// CHECK-DAG:     %[[PWK:.*]] = arith.constant dense<2.000000e+00> : tensor<1x8x16xf32>
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<8xf32>
// CHECK-NOT:     sep.separable_conv1d
// CHECK:         %[[DW:.*]] = "sep.depthwise_conv1d"(%[[X]], %[[DWK]], %[[ZERO]])
// CHECK-SAME:      activation = "linear", dilations = array<i64: 1>, padding = array<i64: 1, 1>, strides = array<i64: 1>
// CHECK-SAME:      -> tensor<1x16x8xf32>
// CHECK-NEXT:    %[[PW:.*]] = "sep.conv1d"(%[[DW]], %[[PWK]], %{{[a-z0-9_]+}})
// CHECK-SAME:      activation = "hard_swish", dilations = array<i64: 1>, padding = array<i64: 0, 0>, strides = array<i64: 1>
// CHECK-SAME:      (tensor<1x16x8xf32>, tensor<1x8x16xf32>, tensor<16xf32>) -> tensor<1x16x16xf32>
// CHECK-NEXT:    return %[[PW]]
func.func @sep1d(%x: tensor<1x16x8xf32>) -> tensor<1x16x16xf32> {
  %dw = arith.constant dense<1.0> : tensor<3x8x1xf32>
  %pw = arith.constant dense<2.0> : tensor<1x8x16xf32>
  %b = arith.constant dense<0.0> : tensor<16xf32>
  %0 = "sep.separable_conv1d"(%x, %dw, %pw, %b) {strides = array<i64: 1>, dilations = array<i64: 1>, padding = array<i64: 1, 1>, activation = "hard_swish"} : (tensor<1x16x8xf32>, tensor<3x8x1xf32>, tensor<1x8x16xf32>, tensor<16xf32>) -> tensor<1x16x16xf32> loc("sc1")
  return %0 : tensor<1x16x16xf32>
}

// Ops other than separable convs are left alone.
// CHECK-LABEL: func.func @untouched(
// CHECK:         "sep.depthwise_conv2d"
// CHECK-SAME:      activation = "relu"
// CHECK-NEXT:    return
func.func @untouched(%x: tensor<1x4x4x4xf32>) -> tensor<1x2x2x4xf32> {
  %k = arith.constant dense<1.0> : tensor<3x3x4x1xf32>
  %b = arith.constant dense<0.0> : tensor<4xf32>
  %0 = "sep.depthwise_conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x4xf32>, tensor<3x3x4x1xf32>, tensor<4xf32>) -> tensor<1x2x2x4xf32> loc("dw")
  return %0 : tensor<1x2x2x4xf32>
}
