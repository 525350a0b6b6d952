// fold-rescaling: x * scale + offset after a linear conv/dense folds into its kernel
// (scaled per output channel) and bias (bias * scale + offset); a number is every
// channel's; the rescaling's activation moves over. An activated conv, or one whose output
// is read elsewhere too, keeps its rescaling.
//
// RUN: %sepc opt %s --passes=fold-rescaling,verify-sep | FileCheck %s

// kernel [1, 4] * [2, 0.25] = [2, 1];  bias [0.5, -1] * [2, 0.25] + [1, 0] = [2, -0.25]
// CHECK-LABEL: func.func @conv_rescaling(
// CHECK-DAG:     %[[K:.*]] = arith.constant dense<{{\[\[\[\[}}2.000000e+00, 1.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-DAG:     %[[B:.*]] = arith.constant dense<[2.000000e+00, -2.500000e-01]> : tensor<2xf32>
// CHECK:         %[[C:.*]] = "sep.conv2d"(%{{.*}}, %[[K]], %[[B]]) {activation = "relu"
// CHECK-NOT:     sep.rescaling
// CHECK:         return %[[C]]
func.func @conv_rescaling(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %k = arith.constant dense<[[[[1.0, 4.0]]]]> : tensor<1x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("c")
  %1 = "sep.rescaling"(%0) {scale = array<f64: 2.0, 0.25>, offset = array<f64: 1.0, 0.0>, activation = "relu"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("r")
  return %1 : tensor<1x2x2x2xf32>
}

// One number for every channel (Inception-ResNet's residual scale): kernel and bias * 0.25.
// CHECK-LABEL: func.func @scalar_scale(
// CHECK-DAG:     %[[K:.*]] = arith.constant dense<{{\[\[\[\[}}2.500000e-01, 1.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-DAG:     %[[B:.*]] = arith.constant dense<[1.250000e-01, -2.500000e-01]> : tensor<2xf32>
// CHECK:         "sep.conv2d"(%{{.*}}, %[[K]], %[[B]]) {activation = "linear"
// CHECK-NOT:     sep.rescaling
func.func @scalar_scale(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %k = arith.constant dense<[[[[1.0, 4.0]]]]> : tensor<1x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("c")
  %1 = "sep.rescaling"(%0) {scale = array<f64: 0.25>, offset = array<f64: 0.0>, activation = "linear"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("r")
  return %1 : tensor<1x2x2x2xf32>
}

// CHECK-LABEL: func.func @activated_conv(
// CHECK:         "sep.conv2d"{{.*}}activation = "relu"
// CHECK:         "sep.rescaling"
func.func @activated_conv(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %k = arith.constant dense<[[[[1.0, 4.0]]]]> : tensor<1x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("c")
  %1 = "sep.rescaling"(%0) {scale = array<f64: 0.25>, offset = array<f64: 0.0>, activation = "linear"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("r")
  return %1 : tensor<1x2x2x2xf32>
}

// CHECK-LABEL: func.func @conv_read_twice(
// CHECK:         "sep.conv2d"{{.*}}activation = "linear"
// CHECK:         "sep.rescaling"
func.func @conv_read_twice(%x: tensor<1x2x2x1xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  %k = arith.constant dense<[[[[1.0, 4.0]]]]> : tensor<1x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("c")
  %1 = "sep.rescaling"(%0) {scale = array<f64: 0.25>, offset = array<f64: 0.0>, activation = "linear"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("r")
  return %0, %1 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}
