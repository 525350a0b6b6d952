// elide-zero-pads: a pad tiled into a loop has dynamic amounts that are zero for every
// tile away from the edges. A run-time test sends those tiles to their input slice itself
// (no buffer, no copy); the edge tiles keep the pad.
// RUN: %sepc opt %s --passes=elide-zero-pads | FileCheck %s

// CHECK-LABEL: func.func @tile_pad(
// CHECK-SAME:    %[[X:[a-z0-9_]+]]: tensor<1x?x64xf32>, %[[LO:[a-z0-9_]+]]: index, %[[HI:[a-z0-9_]+]]: index
// CHECK:         %[[Z:.*]] = arith.constant 0 : index
// CHECK:         %[[A:.*]] = arith.cmpi eq, %[[LO]], %[[Z]]
// CHECK:         %[[B:.*]] = arith.cmpi eq, %[[HI]], %[[Z]]
// CHECK:         %[[BOTH:.*]] = arith.andi %[[A]], %[[B]]
// CHECK:         %[[R:.*]] = scf.if %[[BOTH]] -> (tensor<1x1008x64xf32>) {
// CHECK-NEXT:      %[[C:.*]] = tensor.cast %[[X]] : tensor<1x?x64xf32> to tensor<1x1008x64xf32>
// CHECK-NEXT:      scf.yield %[[C]]
// CHECK-NEXT:    } else {
// CHECK-NEXT:      %[[P:.*]] = tensor.pad %[[X]] low[0, %[[LO]], 0] high[0, %[[HI]], 0]
// CHECK:           scf.yield %[[P]]
// CHECK:         return %[[R]]
func.func @tile_pad(%x: tensor<1x?x64xf32>, %lo: index, %hi: index) -> tensor<1x1008x64xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, %lo, 0] high[0, %hi, 0] {
  ^bb0(%i: index, %j: index, %k: index):
    tensor.yield %zero : f32
  } : tensor<1x?x64xf32> to tensor<1x1008x64xf32>
  return %p : tensor<1x1008x64xf32>
}

// A band of whole rows: its width (16 of 18) is always padded, whatever the amounts.
// CHECK-LABEL: func.func @always_padded(
// CHECK-NOT:     scf.if
// CHECK:         tensor.pad
func.func @always_padded(%x: tensor<1x?x16x16xf32>, %t: index, %b: index, %l: index, %r: index) -> tensor<1x10x18x16xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, %t, %l, 0] high[0, %b, %r, 0] {
  ^bb0(%i: index, %j: index, %k: index, %m: index):
    tensor.yield %zero : f32
  } : tensor<1x?x16x16xf32> to tensor<1x10x18x16xf32>
  return %p : tensor<1x10x18x16xf32>
}

// Static amounts: nothing to decide at run time.
// CHECK-LABEL: func.func @static_pad(
// CHECK-NOT:     scf.if
// CHECK:         tensor.pad
func.func @static_pad(%x: tensor<1x4x8xf32>) -> tensor<1x6x8xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 1, 0] high[0, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index):
    tensor.yield %zero : f32
  } : tensor<1x4x8xf32> to tensor<1x6x8xf32>
  return %p : tensor<1x6x8xf32>
}
