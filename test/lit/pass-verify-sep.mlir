// verify-sep rejects sep ops whose shapes IRDL cannot check, naming the op, its location
// and what is wrong. Each case is a file of its own (split-file): the pass stops at the
// first invalid op.
// RUN: rm -rf %t && split-file %s %t
// RUN: %sepc opt %t/valid.mlir --passes=verify-sep | FileCheck %s --check-prefix=VALID
// RUN: not %sepc opt %t/kernel_channels.mlir --passes=verify-sep 2>&1 | FileCheck %s --check-prefix=KERNEL
// RUN: not %sepc opt %t/depthwise_bias.mlir --passes=verify-sep 2>&1 | FileCheck %s --check-prefix=DWBIAS
// RUN: not %sepc opt %t/pointwise.mlir --passes=verify-sep 2>&1 | FileCheck %s --check-prefix=POINTWISE
// RUN: not %sepc opt %t/padding.mlir --passes=verify-sep 2>&1 | FileCheck %s --check-prefix=PADDING
// RUN: not %sepc opt %t/rank.mlir --passes=verify-sep 2>&1 | FileCheck %s --check-prefix=RANK
// RUN: not %sepc opt %t/add.mlir --passes=verify-sep 2>&1 | FileCheck %s --check-prefix=ADD
// Operands of one add that differ in type are already rejected by the IRDL definition
// (one constraint variable for all of them) when the file is parsed: a user error.
// RUN: %exit-code 2 %sepc opt %t/add_operands.mlir --passes=verify-sep 2>&1 | FileCheck %s --check-prefix=ADDOPS
// The graph passes verify what they produce too: a bad kernel is caught after fusion.
// RUN: not %sepc opt %t/kernel_channels.mlir --passes=fuse-activation,verify-sep 2>&1 | FileCheck %s --check-prefix=KERNEL

// VALID: "sep.conv2d"
// VALID: "sep.separable_conv2d"
// KERNEL: invalid sep.conv2d at loc("c"): kernel [3, 3, 5, 8] does not take 4 input channels
// DWBIAS: invalid sep.depthwise_conv2d at loc("dw"): 8 output channels expected{{.*}}(bias [4])
// POINTWISE: invalid sep.separable_conv2d at loc("sc"): pointwise kernel [1, 1, 4, 6] does not follow depthwise kernel [3, 3, 4, 2]
// PADDING: invalid sep.conv1d at loc("c1"): padding needs a (before, after) pair per spatial dimension
// RANK: invalid sep.depthwise_conv2d at loc("dw"): input/output rank must be 4
// ADD: invalid sep.add at loc("add"): operands and result differ in shape: [(1, 4, 4, 2), (1, 4, 4, 3)]
// ADDOPS: add_operands.mlir: invalid IR:
// ADDOPS-NEXT: error: "add": expected 'tensor<1x4x4x2xf32>' but got 'tensor<1x4x4x3xf32>'


//--- valid.mlir
func.func @valid(%x: tensor<1x8x8x4xf32>) -> tensor<1x6x6x6xf32> {
  %k = arith.constant dense<1.0> : tensor<3x3x4x8xf32>
  %b = arith.constant dense<0.0> : tensor<8xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "linear"} : (tensor<1x8x8x4xf32>, tensor<3x3x4x8xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32> loc("c")
  %dw = arith.constant dense<1.0> : tensor<3x3x8x2xf32>
  %pw = arith.constant dense<1.0> : tensor<1x1x16x6xf32>
  %pb = arith.constant dense<0.0> : tensor<6xf32>
  %1 = "sep.separable_conv2d"(%0, %dw, %pw, %pb) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x8x8x8xf32>, tensor<3x3x8x2xf32>, tensor<1x1x16x6xf32>, tensor<6xf32>) -> tensor<1x6x6x6xf32> loc("sc")
  return %1 : tensor<1x6x6x6xf32>
}

//--- kernel_channels.mlir
func.func @bad(%x: tensor<1x8x8x4xf32>) -> tensor<1x6x6x8xf32> {
  %k = arith.constant dense<1.0> : tensor<3x3x5x8xf32>
  %b = arith.constant dense<0.0> : tensor<8xf32>
  %0 = "sep.conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x8x8x4xf32>, tensor<3x3x5x8xf32>, tensor<8xf32>) -> tensor<1x6x6x8xf32> loc("c")
  return %0 : tensor<1x6x6x8xf32>
}

//--- depthwise_bias.mlir
func.func @bad(%x: tensor<1x4x4x4xf32>) -> tensor<1x2x2x8xf32> {
  %k = arith.constant dense<1.0> : tensor<3x3x4x2xf32>
  %b = arith.constant dense<0.0> : tensor<4xf32>
  %0 = "sep.depthwise_conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x4x4x4xf32>, tensor<3x3x4x2xf32>, tensor<4xf32>) -> tensor<1x2x2x8xf32> loc("dw")
  return %0 : tensor<1x2x2x8xf32>
}

//--- pointwise.mlir
func.func @bad(%x: tensor<1x4x4x4xf32>) -> tensor<1x2x2x6xf32> {
  %dw = arith.constant dense<1.0> : tensor<3x3x4x2xf32>
  %pw = arith.constant dense<1.0> : tensor<1x1x4x6xf32>
  %b = arith.constant dense<0.0> : tensor<6xf32>
  %0 = "sep.separable_conv2d"(%x, %dw, %pw, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x4x4x4xf32>, tensor<3x3x4x2xf32>, tensor<1x1x4x6xf32>, tensor<6xf32>) -> tensor<1x2x2x6xf32> loc("sc")
  return %0 : tensor<1x2x2x6xf32>
}

//--- padding.mlir
func.func @bad(%x: tensor<1x8x4xf32>) -> tensor<1x8x4xf32> {
  %k = arith.constant dense<1.0> : tensor<3x4x4xf32>
  %b = arith.constant dense<0.0> : tensor<4xf32>
  %0 = "sep.conv1d"(%x, %k, %b) {strides = array<i64: 1>, dilations = array<i64: 1>, padding = array<i64: 1, 1, 0, 0>, activation = "linear"} : (tensor<1x8x4xf32>, tensor<3x4x4xf32>, tensor<4xf32>) -> tensor<1x8x4xf32> loc("c1")
  return %0 : tensor<1x8x4xf32>
}

//--- rank.mlir
func.func @bad(%x: tensor<1x8x4xf32>) -> tensor<1x6x4xf32> {
  %k = arith.constant dense<1.0> : tensor<3x3x4x1xf32>
  %b = arith.constant dense<0.0> : tensor<4xf32>
  %0 = "sep.depthwise_conv2d"(%x, %k, %b) {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "linear"} : (tensor<1x8x4xf32>, tensor<3x3x4x1xf32>, tensor<4xf32>) -> tensor<1x6x4xf32> loc("dw")
  return %0 : tensor<1x6x4xf32>
}

//--- add.mlir
func.func @bad(%x: tensor<1x4x4x2xf32>, %y: tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32> {
  %0 = "sep.add"(%x, %y) {activation = "linear"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x3xf32> loc("add")
  return %0 : tensor<1x4x4x3xf32>
}

//--- add_operands.mlir
func.func @bad(%x: tensor<1x4x4x2xf32>, %y: tensor<1x4x4x3xf32>) -> tensor<1x4x4x2xf32> {
  %0 = "sep.add"(%x, %y) {activation = "linear"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x3xf32>) -> tensor<1x4x4x2xf32> loc("add")
  return %0 : tensor<1x4x4x2xf32>
}
