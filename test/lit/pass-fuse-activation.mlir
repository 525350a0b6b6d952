// fuse-activation: a standalone activation becomes the activation of the op before it
// when that op has no other use and no activation of its own.
// RUN: %sepc opt %s --passes=fuse-activation,verify-sep | FileCheck %s

// CHECK-LABEL: func.func @fused_into_conv(
// CHECK:         %[[C:.*]] = "sep.conv2d"({{.*}}) {activation = "relu6"
// CHECK-NOT:     sep.activation
// CHECK:         return %[[C]]
func.func @fused_into_conv(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32> {
  %k = arith.constant dense<1.0> : tensor<1x1x2x3xf32>
  %b = arith.constant dense<0.0> : tensor<3xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32> loc("c")
  %1 = "sep.activation"(%0) {activation = "relu6"} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> loc("act")
  return %1 : tensor<1x4x4x3xf32>
}

// Into a depthwise conv, a dense (softmax too) and an add.
// CHECK-LABEL: func.func @fused_into_others(
// CHECK:         %[[DW:.*]] = "sep.depthwise_conv1d"({{.*}}) {activation = "hard_swish"
// CHECK:         %[[ADD:.*]] = "sep.add"(%[[DW]], %{{[a-z0-9]+}}) {activation = "tanh"}
// CHECK:         %[[FC:.*]] = "sep.dense"(%[[ADD]], {{.*}}) {activation = "softmax"}
// CHECK-NOT:     sep.activation
// CHECK:         return %[[FC]]
func.func @fused_into_others(%x: tensor<1x8x4xf32>) -> tensor<1x8x5xf32> {
  %k = arith.constant dense<1.0> : tensor<1x4x1xf32>
  %b = arith.constant dense<0.0> : tensor<4xf32>
  %fk = arith.constant dense<1.0> : tensor<4x5xf32>
  %fb = arith.constant dense<0.0> : tensor<5xf32>
  %0 = "sep.depthwise_conv1d"(%x, %k, %b) {strides = array<i64: 1>, dilations = array<i64: 1>, padding = array<i64: 0, 0>, activation = "linear"} : (tensor<1x8x4xf32>, tensor<1x4x1xf32>, tensor<4xf32>) -> tensor<1x8x4xf32> loc("dw")
  %1 = "sep.activation"(%0) {activation = "hard_swish"} : (tensor<1x8x4xf32>) -> tensor<1x8x4xf32> loc("a1")
  %2 = "sep.add"(%1, %x) {activation = "linear"} : (tensor<1x8x4xf32>, tensor<1x8x4xf32>) -> tensor<1x8x4xf32> loc("add")
  %3 = "sep.activation"(%2) {activation = "tanh"} : (tensor<1x8x4xf32>) -> tensor<1x8x4xf32> loc("a2")
  %4 = "sep.dense"(%3, %fk, %fb) {activation = "linear"} : (tensor<1x8x4xf32>, tensor<4x5xf32>, tensor<5xf32>) -> tensor<1x8x5xf32> loc("fc")
  %5 = "sep.activation"(%4) {activation = "softmax"} : (tensor<1x8x5xf32>) -> tensor<1x8x5xf32> loc("a3")
  return %5 : tensor<1x8x5xf32>
}

// The conv's result is used twice: fusing would apply the activation to the other use.
// CHECK-LABEL: func.func @producer_has_two_uses(
// CHECK:         %[[C:.*]] = "sep.conv2d"({{.*}}) {activation = "linear"
// CHECK-NEXT:    %[[A:.*]] = "sep.activation"(%[[C]]) {activation = "relu"}
// CHECK-NEXT:    %[[S:.*]] = "sep.add"(%[[A]], %[[C]])
// CHECK-NEXT:    return %[[S]]
func.func @producer_has_two_uses(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32> {
  %k = arith.constant dense<1.0> : tensor<1x1x2x3xf32>
  %b = arith.constant dense<0.0> : tensor<3xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32> loc("c")
  %1 = "sep.activation"(%0) {activation = "relu"} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> loc("act")
  %2 = "sep.add"(%1, %0) {activation = "linear"} : (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> loc("add")
  return %2 : tensor<1x4x4x3xf32>
}

// Already activated: sigmoid(relu(conv)) stays two ops.
// CHECK-LABEL: func.func @producer_is_activated(
// CHECK:         %[[C:.*]] = "sep.conv2d"({{.*}}) {activation = "relu"
// CHECK-NEXT:    %[[A:.*]] = "sep.activation"(%[[C]]) {activation = "sigmoid"}
// CHECK-NEXT:    return %[[A]]
func.func @producer_is_activated(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32> {
  %k = arith.constant dense<1.0> : tensor<1x1x2x3xf32>
  %b = arith.constant dense<0.0> : tensor<3xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32> loc("c")
  %1 = "sep.activation"(%0) {activation = "sigmoid"} : (tensor<1x4x4x3xf32>) -> tensor<1x4x4x3xf32> loc("act")
  return %1 : tensor<1x4x4x3xf32>
}

// No producer op (a function argument) or one without an activation (pooling, reshape).
// CHECK-LABEL: func.func @no_producer_with_activation(
// CHECK-SAME:      %[[X:[a-z0-9]+]]:
// CHECK:         %[[A0:.*]] = "sep.activation"(%[[X]]) {activation = "relu"}
// CHECK-NEXT:    %[[P:.*]] = "sep.max_pool2d"(%[[A0]])
// CHECK-NEXT:    %[[A1:.*]] = "sep.activation"(%[[P]]) {activation = "relu6"}
// CHECK-NEXT:    return %[[A1]]
func.func @no_producer_with_activation(%x: tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> {
  %0 = "sep.activation"(%x) {activation = "relu"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> loc("a0")
  %1 = "sep.max_pool2d"(%0) {pool_size = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> loc("pool")
  %2 = "sep.activation"(%1) {activation = "relu6"} : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> loc("a1")
  return %2 : tensor<1x2x2x2xf32>
}
