// fold-batch-norm: batch_norm(x) = x * s + t with s = gamma / sqrt(var + eps) and
// t = beta - mean * s folds into the kernel (scaled per output channel) and the bias
// (bias * s + t) of the linear conv/dense before it; the BN's activation moves over.
//
// RUN: %sepc opt %s --passes=fold-batch-norm,verify-sep | FileCheck %s

// s = [2, 1.5] / sqrt([3, 8] + 1) = [1, 0.5];  t = [1, 0] - [0.5, 1] * s = [0.5, -0.5]
// kernel [1, 4] * s = [1, 2];  bias [0.5, -1] * s + t = [1, -1]
// CHECK-LABEL: func.func @conv_bn(
// CHECK-DAG:     %[[K:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-DAG:     %[[B:.*]] = arith.constant dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
// CHECK:         %[[C:.*]] = "sep.conv2d"(%{{.*}}, %[[K]], %[[B]]) {activation = "relu6"
// CHECK-NOT:     sep.batch_norm
// CHECK:         return %[[C]]
func.func @conv_bn(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %k = arith.constant dense<[[[[1.0, 4.0]]]]> : tensor<1x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %gamma = arith.constant dense<[2.0, 1.5]> : tensor<2xf32>
  %beta = arith.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %mean = arith.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %var = arith.constant dense<[3.0, 8.0]> : tensor<2xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("c")
  %1 = "sep.batch_norm"(%0, %gamma, %beta, %mean, %var) {epsilon = 1.0 : f64, activation = "relu6"} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("bn")
  return %1 : tensor<1x2x2x2xf32>
}

// Depthwise with multiplier 2: output channel c*M+m is scaled by s[c*M+m].
// s = [1, 2, 3, 4] / sqrt(0.5 + 0.5);  kernel ones (1x1, C=2, M=2) -> [[1, 2], [3, 4]];
// bias 0 * s + [0, 0, 0, 0.5] - [0, 0, 0, 0.25] * s = [0, 0, 0, -0.5]
// CHECK-LABEL: func.func @depthwise_bn(
// CHECK-DAG:     %[[K:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00], [3.000000e+00, 4.000000e+00]]]]> : tensor<1x1x2x2xf32>
// CHECK-DAG:     %[[B:.*]] = arith.constant dense<[0.000000e+00, 0.000000e+00, 0.000000e+00, -5.000000e-01]> : tensor<4xf32>
// CHECK:         %[[C:.*]] = "sep.depthwise_conv2d"(%{{.*}}, %[[K]], %[[B]]) {activation = "linear"
// CHECK-NOT:     sep.batch_norm
// CHECK:         return %[[C]]
func.func @depthwise_bn(%x: tensor<1x3x3x2xf32>) -> tensor<1x3x3x4xf32> {
  %k = arith.constant dense<1.0> : tensor<1x1x2x2xf32>
  %b = arith.constant dense<0.0> : tensor<4xf32>
  %gamma = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %beta = arith.constant dense<[0.0, 0.0, 0.0, 0.5]> : tensor<4xf32>
  %mean = arith.constant dense<[0.0, 0.0, 0.0, 0.25]> : tensor<4xf32>
  %var = arith.constant dense<0.5> : tensor<4xf32>
  %0 = "sep.depthwise_conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x3x3x2xf32>, tensor<1x1x2x2xf32>, tensor<4xf32>) -> tensor<1x3x3x4xf32> loc("dw")
  %1 = "sep.batch_norm"(%0, %gamma, %beta, %mean, %var) {epsilon = 0.5 : f64, activation = "linear"} : (tensor<1x3x3x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x3x3x4xf32> loc("bn")
  return %1 : tensor<1x3x3x4xf32>
}

// Dense: s = [0.5, 2] / sqrt(0.75 + 0.25);  kernel [[1, 2], [3, 4]] * s (per column);
// bias [1, 1] * s + ([0, -2] - [0, 1] * s) = [0.5, -2]
// CHECK-LABEL: func.func @dense_bn(
// CHECK-DAG:     %[[K:.*]] = arith.constant dense<{{\[\[}}5.000000e-01, 4.000000e+00], [1.500000e+00, 8.000000e+00]]> : tensor<2x2xf32>
// CHECK-DAG:     %[[B:.*]] = arith.constant dense<[5.000000e-01, -2.000000e+00]> : tensor<2xf32>
// CHECK:         %[[C:.*]] = "sep.dense"(%{{.*}}, %[[K]], %[[B]]) {activation = "sigmoid"}
// CHECK-NOT:     sep.batch_norm
// CHECK:         return %[[C]]
func.func @dense_bn(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %k = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %b = arith.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %gamma = arith.constant dense<[0.5, 2.0]> : tensor<2xf32>
  %beta = arith.constant dense<[0.0, -2.0]> : tensor<2xf32>
  %mean = arith.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %var = arith.constant dense<[0.75, 0.75]> : tensor<2xf32>
  %0 = "sep.dense"(%x, %k, %b) {activation = "linear"} : (tensor<2x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<2x2xf32> loc("fc")
  %1 = "sep.batch_norm"(%0, %gamma, %beta, %mean, %var) {epsilon = 0.25 : f64, activation = "sigmoid"} : (tensor<2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2x2xf32> loc("bn")
  return %1 : tensor<2x2xf32>
}
