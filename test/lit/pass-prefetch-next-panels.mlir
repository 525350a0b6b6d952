// prefetch-next-panels: a loop over the channels of packed 1x1 weights (F/16, C, 16)
// reading a block of 2 panels per step prefetches, per step, the line of each of the next
// block's 2 panels into L2 (locality 2). Weights under 256 KiB are left alone.
// RUN: %sepc opt %s --passes=prefetch-next-panels | FileCheck %s

memref.global "private" constant @big : memref<32x512x16xf32> = dense<1.0>
memref.global "private" constant @small : memref<4x64x16xf32> = dense<1.0>

// CHECK-LABEL: func.func @block(
// CHECK:         scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK-DAG:       %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:       %[[NEXT:.*]] = arith.addi %arg0, %[[C2]] : index
// CHECK:           memref.prefetch %{{.*}}[%[[NEXT]], %[[K]], %{{.*}}], read, locality<2>, data : memref<32x512x16xf32>
// CHECK:           %[[C3:.*]] = arith.constant 3 : index
// CHECK-NEXT:      %[[LAST:.*]] = arith.addi %arg0, %[[C3]] : index
// CHECK-NEXT:      memref.prefetch %{{.*}}[%[[LAST]], %[[K]], %{{.*}}], read, locality<2>, data
// CHECK-NEXT:      vector.transfer_read
func.func @block(%panel: index, %acc: vector<2x16xf32>) -> vector<2x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c512 = arith.constant 512 : index
  %pad = arith.constant 0.0 : f32
  %w = memref.get_global @big : memref<32x512x16xf32>
  %r = scf.for %k = %c0 to %c512 step %c1 iter_args(%a = %acc) -> (vector<2x16xf32>) {
    %v = vector.transfer_read %w[%panel, %k, %c0], %pad {in_bounds = [true, true], permutation_map = affine_map<(d0, d1, d2) -> (d0, d2)>} : memref<32x512x16xf32>, vector<2x16xf32>
    %s = arith.addf %a, %v : vector<2x16xf32>
    scf.yield %s : vector<2x16xf32>
  }
  return %r : vector<2x16xf32>
}

// CHECK-LABEL: func.func @small_weights(
// CHECK-NOT:     memref.prefetch
func.func @small_weights(%panel: index, %acc: vector<2x16xf32>) -> vector<2x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %pad = arith.constant 0.0 : f32
  %w = memref.get_global @small : memref<4x64x16xf32>
  %r = scf.for %k = %c0 to %c64 step %c1 iter_args(%a = %acc) -> (vector<2x16xf32>) {
    %v = vector.transfer_read %w[%panel, %k, %c0], %pad {in_bounds = [true, true], permutation_map = affine_map<(d0, d1, d2) -> (d0, d2)>} : memref<4x64x16xf32>, vector<2x16xf32>
    %s = arith.addf %a, %v : vector<2x16xf32>
    scf.yield %s : vector<2x16xf32>
  }
  return %r : vector<2x16xf32>
}
