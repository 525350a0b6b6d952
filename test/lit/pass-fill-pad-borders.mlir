// fill-pad-borders: a constant tensor.pad becomes fills of its borders and the input
// inserted in the middle (bufferized as is, the pad fills the whole buffer, then copies the
// input over most of it). Static amounts, and the dynamic ones of a pad tiled into a loop.
// RUN: %sepc opt %s --passes=fill-pad-borders | FileCheck %s

// CHECK-LABEL: func.func @static_pad(
// CHECK-SAME:    %[[X:.*]]: tensor<1x4x4x8xf32>
// CHECK-NOT:     tensor.pad
// CHECK:         %[[OUT:.*]] = tensor.empty() : tensor<1x6x5x8xf32>
// The rows above (1) and below (1), then the column on the left (1; none on the right).
// CHECK:         %[[T:.*]] = linalg.fill {{.*}}outs(%{{.*}} : tensor<1x1x5x8xf32>)
// CHECK:         %[[A:.*]] = tensor.insert_slice %[[T]] into %[[OUT]][0, 0, 0, 0] [1, 1, 5, 8] [1, 1, 1, 1]
// CHECK:         %[[B:.*]] = linalg.fill {{.*}}outs(%{{.*}} : tensor<1x1x5x8xf32>)
// CHECK:         %[[AB:.*]] = tensor.insert_slice %[[B]] into %[[A]][0, 5, 0, 0] [1, 1, 5, 8] [1, 1, 1, 1]
// CHECK:         %[[L:.*]] = linalg.fill {{.*}}outs(%{{.*}} : tensor<1x6x1x8xf32>)
// CHECK:         %[[ABL:.*]] = tensor.insert_slice %[[L]] into %[[AB]][0, 0, 0, 0] [1, 6, 1, 8] [1, 1, 1, 1]
// CHECK-NOT:     linalg.fill
// CHECK:         %[[R:.*]] = tensor.insert_slice %[[X]] into %[[ABL]][0, 1, 1, 0] [1, 4, 4, 8] [1, 1, 1, 1]
// CHECK:         return %[[R]]
func.func @static_pad(%x: tensor<1x4x4x8xf32>) -> tensor<1x6x5x8xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 0, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x4x4x8xf32> to tensor<1x6x5x8xf32>
  return %p : tensor<1x6x5x8xf32>
}

// A tile's pad: dynamic input width and dynamic left/right amounts (0 inside the image).
// CHECK-LABEL: func.func @dynamic_pad(
// CHECK-SAME:    %[[X:.*]]: tensor<1x3x?x8xf32>, %[[LO:.*]]: index, %[[HI:.*]]: index
// CHECK-NOT:     tensor.pad
// CHECK:         %[[W:.*]] = tensor.dim %[[X]], %c2
// CHECK:         %[[AT:.*]] = arith.subi %c10, %[[HI]]
// CHECK:         linalg.fill {{.*}}outs(%{{.*}} : tensor<1x3x?x8xf32>)
// CHECK:         tensor.insert_slice {{.*}}[0, 0, 0, 0] [1, 3, %[[LO]], 8] [1, 1, 1, 1]
// CHECK:         tensor.insert_slice {{.*}}[0, 0, %[[AT]], 0] [1, 3, %[[HI]], 8] [1, 1, 1, 1]
// CHECK:         tensor.insert_slice %[[X]] into {{.*}}[0, 0, %[[LO]], 0] [1, 3, %[[W]], 8] [1, 1, 1, 1]
func.func @dynamic_pad(%x: tensor<1x3x?x8xf32>, %lo: index, %hi: index) -> tensor<1x3x10x8xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[0, 0, %lo, 0] high[0, 0, %hi, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x3x?x8xf32> to tensor<1x3x10x8xf32>
  return %p : tensor<1x3x10x8xf32>
}
