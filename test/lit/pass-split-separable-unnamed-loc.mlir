// sepc opt must accept IR whose ops carry no name location (hand-written or printed
// without locations): split-separable and lower-to-linalg name such layers themselves
// (reading `name_str` of a file:line:col location used to crash the bindings, SIGSEGV),
// and two unnamed layers must not share the tags the schedules match them by.
// RUN: %sepc opt %s --passes=split-separable,verify-sep | FileCheck %s --check-prefix=SPLIT
// RUN: %sepc opt %s --passes=split-separable,verify-sep,lower-to-linalg | FileCheck %s --check-prefix=LINALG

// SPLIT-LABEL: func.func @no_name_loc(
// SPLIT:         %[[D0:.*]] = "sep.depthwise_conv2d"
// SPLIT-NEXT:    %[[P0:.*]] = "sep.conv2d"(%[[D0]],
// SPLIT:         %[[D1:.*]] = "sep.depthwise_conv2d"(%[[P0]],
// SPLIT-NEXT:    %[[P1:.*]] = "sep.conv2d"(%[[D1]],
// SPLIT-NEXT:    return %[[P1]]

// LINALG-LABEL: func.func @no_name_loc(
// LINALG:         linalg.depthwise_conv_2d_nhwc_hwc {{.*}}sep.layer = "[[L0:[^"]+]]"
// LINALG:         linalg.matmul {{.*}}sep.layer = "[[L1:[^"]+]]"
// LINALG-NOT:     "[[L0]]"
// LINALG-NOT:     "[[L1]]"
// LINALG:         linalg.depthwise_conv_2d_nhwc_hwc
// LINALG-NOT:     "[[L0]]"
// LINALG-NOT:     "[[L1]]"
// LINALG:         linalg.matmul
// LINALG-NOT:     "[[L0]]"
// LINALG-NOT:     "[[L1]]"
// LINALG:         return
func.func @no_name_loc(%x: tensor<1x6x6x2xf32>) -> tensor<1x2x2x4xf32> {
  %dw = arith.constant dense<1.0> : tensor<3x3x2x1xf32>
  %pw = arith.constant dense<1.0> : tensor<1x1x2x2xf32>
  %b = arith.constant dense<0.0> : tensor<2xf32>
  %0 = "sep.separable_conv2d"(%x, %dw, %pw, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x6x6x2xf32>, tensor<3x3x2x1xf32>, tensor<1x1x2x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %pw2 = arith.constant dense<1.0> : tensor<1x1x2x4xf32>
  %b2 = arith.constant dense<0.0> : tensor<4xf32>
  %1 = "sep.separable_conv2d"(%0, %dw, %pw2, %b2) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x4x4x2xf32>, tensor<3x3x2x1xf32>, tensor<1x1x2x4xf32>, tensor<4xf32>) -> tensor<1x2x2x4xf32>
  return %1 : tensor<1x2x2x4xf32>
}
