// fold-batch-norm leaves a batch norm alone when folding would change the result or
// when there is nothing to fold into.
// RUN: %sepc opt %s --passes=fold-batch-norm,verify-sep | FileCheck %s

// The conv's result has a second use (it is also returned): folding would change it.
// CHECK-LABEL: func.func @producer_has_two_uses(
// CHECK-SAME:      %[[X:[a-z0-9]+]]:
// CHECK:         %[[K:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 4.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK:         %[[C:.*]] = "sep.conv2d"(%[[X]], %[[K]], %{{[a-z0-9_]+}}) {activation = "linear"
// CHECK-NEXT:    %[[BN:.*]] = "sep.batch_norm"(%[[C]],
// CHECK-SAME:      activation = "relu6"
// CHECK-NEXT:    return %[[BN]], %[[C]]
func.func @producer_has_two_uses(%x: tensor<1x2x2x1xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) {
  %k = arith.constant dense<[[[[1.0, 4.0]]]]> : tensor<1x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %gamma = arith.constant dense<[2.0, 1.5]> : tensor<2xf32>
  %beta = arith.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %mean = arith.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %var = arith.constant dense<[3.0, 8.0]> : tensor<2xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("c")
  %1 = "sep.batch_norm"(%0, %gamma, %beta, %mean, %var) {epsilon = 1.0 : f64, activation = "relu6"} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("bn")
  return %1, %0 : tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>
}

// The conv is already activated (relu before BN): BN(relu(conv)) is not a conv.
// CHECK-LABEL: func.func @producer_is_activated(
// CHECK:         %[[K:.*]] = arith.constant dense<{{\[\[\[\[}}1.000000e+00, 4.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK:         %[[C:.*]] = "sep.conv2d"(%{{[a-z0-9_]+}}, %[[K]], %{{[a-z0-9_]+}}) {activation = "relu"
// CHECK-NEXT:    %[[BN:.*]] = "sep.batch_norm"(%[[C]],
// CHECK-SAME:      activation = "linear"
// CHECK-NEXT:    return %[[BN]]
func.func @producer_is_activated(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %k = arith.constant dense<[[[[1.0, 4.0]]]]> : tensor<1x1x1x2xf32>
  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %gamma = arith.constant dense<[2.0, 1.5]> : tensor<2xf32>
  %beta = arith.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %mean = arith.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %var = arith.constant dense<[3.0, 8.0]> : tensor<2xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("c")
  %1 = "sep.batch_norm"(%0, %gamma, %beta, %mean, %var) {epsilon = 1.0 : f64, activation = "linear"} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("bn")
  return %1 : tensor<1x2x2x2xf32>
}

// A BN on a function argument, or after an op without kernel and bias (add, pooling),
// has nothing to fold into.
// CHECK-LABEL: func.func @no_foldable_producer(
// CHECK-SAME:      %[[X:[a-z0-9]+]]:
// CHECK:         %[[BN0:.*]] = "sep.batch_norm"(%[[X]],
// CHECK:         %[[ADD:.*]] = "sep.add"(%[[BN0]], %[[X]])
// CHECK-NEXT:    %[[BN1:.*]] = "sep.batch_norm"(%[[ADD]],
// CHECK-NEXT:    %[[POOL:.*]] = "sep.max_pool2d"(%[[BN1]])
// CHECK-NEXT:    %[[BN2:.*]] = "sep.batch_norm"(%[[POOL]],
// CHECK-NEXT:    return %[[BN2]]
func.func @no_foldable_producer(%x: tensor<1x2x2x2xf32>) -> tensor<1x1x1x2xf32> {
  %gamma = arith.constant dense<[2.0, 1.5]> : tensor<2xf32>
  %beta = arith.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %mean = arith.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %var = arith.constant dense<[3.0, 8.0]> : tensor<2xf32>
  %0 = "sep.batch_norm"(%x, %gamma, %beta, %mean, %var) {epsilon = 1.0 : f64, activation = "linear"} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("bn0")
  %1 = "sep.add"(%0, %x) {activation = "linear"} : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("add")
  %2 = "sep.batch_norm"(%1, %gamma, %beta, %mean, %var) {epsilon = 1.0 : f64, activation = "linear"} : (tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32> loc("bn1")
  %3 = "sep.max_pool2d"(%2) {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<1x2x2x2xf32>) -> tensor<1x1x1x2xf32> loc("pool")
  %4 = "sep.batch_norm"(%3, %gamma, %beta, %mean, %var) {epsilon = 1.0 : f64, activation = "linear"} : (tensor<1x1x1x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x1x1x2xf32> loc("bn2")
  return %4 : tensor<1x1x1x2xf32>
}
