// prefetch-next-panels: a loop over the channels of packed 1x1 weights (F/16, C, 16)
// reading a block of 2 panels per step prefetches, per step, the line of each of the next
// block's 2 panels into L2 (locality 2). Only loops their kernel's strategy marks
// (sep.prefetch: the schedule marks large weights' loops) are rewritten.
// RUN: %sepc opt %s --passes=prefetch-next-panels | FileCheck %s
// RUN: %sepc opt %s --passes='prefetch-next-panels{rows-ahead=4 line-floats=32}' | FileCheck %s --check-prefix=OPTIONS

memref.global "private" constant @big : memref<32x512x16xf32> = dense<1.0>

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
  } {sep.prefetch}
  return %r : vector<2x16xf32>
}

// CHECK-LABEL: func.func @unmarked(
// CHECK-NOT:     memref.prefetch
func.func @unmarked(%panel: index, %acc: vector<2x16xf32>) -> vector<2x16xf32> {
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

// A dense layer's loop over the K rows of its (K, N) weights, reading 32 columns of a row
// per step through a view: the same columns of the row 8 ahead are prefetched, a line
// (16 floats) at a time (the pass's options: 4 rows ahead, 32-float lines).
memref.global "private" constant @dense : memref<1024x1000xf32> = dense<1.0>

// CHECK-LABEL: func.func @dense_rows(
// CHECK:         scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK:           %[[C8:.*]] = arith.constant 8 : index
// CHECK-NEXT:      %[[AHEAD:.*]] = arith.addi %[[K]], %[[C8]] : index
// CHECK-NEXT:      %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT:      memref.prefetch %[[COLS:.*]][%[[AHEAD]], %[[C0]]], read, locality<2>, data
// CHECK-NEXT:      %[[C16:.*]] = arith.constant 16 : index
// CHECK-NEXT:      memref.prefetch %[[COLS]][%[[AHEAD]], %[[C16]]], read, locality<2>, data
// CHECK-NEXT:      memref.subview %[[COLS]][%[[K]], 0] [1, 32] [1, 1]
// OPTIONS-LABEL: func.func @dense_rows(
// OPTIONS:         %[[C4:.*]] = arith.constant 4 : index
// OPTIONS-NEXT:    %[[AHEAD:.*]] = arith.addi %{{.*}}, %[[C4]] : index
// OPTIONS-NEXT:    %[[C0:.*]] = arith.constant 0 : index
// OPTIONS-NEXT:    memref.prefetch %{{.*}}[%[[AHEAD]], %[[C0]]], read, locality<2>, data
// OPTIONS-NEXT:    memref.subview
func.func @dense_rows(%col: index, %acc: vector<1x32xf32>) -> vector<1x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1024 = arith.constant 1024 : index
  %pad = arith.constant 0.0 : f32
  %w = memref.get_global @dense : memref<1024x1000xf32>
  %cols = memref.subview %w[0, %col] [1024, 32] [1, 1] : memref<1024x1000xf32> to memref<1024x32xf32, strided<[1000, 1], offset: ?>>
  %r = scf.for %k = %c0 to %c1024 step %c1 iter_args(%a = %acc) -> (vector<1x32xf32>) {
    %row = memref.subview %cols[%k, 0] [1, 32] [1, 1] : memref<1024x32xf32, strided<[1000, 1], offset: ?>> to memref<1x32xf32, strided<[1000, 1], offset: ?>>
    %v = vector.transfer_read %row[%c0, %c0], %pad {in_bounds = [true, true]} : memref<1x32xf32, strided<[1000, 1], offset: ?>>, vector<1x32xf32>
    %s = arith.addf %a, %v : vector<1x32xf32>
    scf.yield %s : vector<1x32xf32>
  } {sep.prefetch}
  return %r : vector<1x32xf32>
}

// Inside a loop over the tile's 4 rows (the loop over blocks of panels outside it steps the
// panel index), the rows share the next block's lines: at channel step k, row b prefetches
// the one line of panel (k + b) mod 2 of the next block, no branch.
// CHECK-LABEL: func.func @rows_of_a_block(
// CHECK:         scf.for %[[BLOCK:[a-z0-9_]+]] = {{.*}} step %c2
// CHECK:           scf.for %[[ROW:[a-z0-9_]+]] = %{{.*}} to %c4
// CHECK:             %[[FROM:[0-9]+]] = arith.subi %[[ROW]], %{{.*}} : index
// CHECK:             %[[B:[0-9]+]] = arith.addi
// CHECK:             scf.for %[[K:[a-z0-9_]+]] =
// CHECK:               %[[KB:[0-9]+]] = arith.addi %[[K]], %[[B]] : index
// CHECK:               %[[ROT:[0-9]+]] = arith.remui %[[KB]], %{{.*}} : index
// CHECK:               %[[NEXT:[0-9]+]] = arith.addi %[[ROT]], %{{.*}} : index
// CHECK:               %[[PANEL:[0-9]+]] = arith.addi %[[BLOCK]], %[[NEXT]] : index
// CHECK-NEXT:          memref.prefetch %{{.*}}[%[[PANEL]], %[[K]], %{{.*}}], read, locality<2>, data
// CHECK-NOT:           memref.prefetch
// CHECK-NOT:           scf.if
// CHECK:               vector.transfer_read
func.func @rows_of_a_block(%acc: vector<2x16xf32>) -> vector<2x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c512 = arith.constant 512 : index
  %pad = arith.constant 0.0 : f32
  %w = memref.get_global @big : memref<32x512x16xf32>
  %out = scf.for %block = %c0 to %c32 step %c2 iter_args(%b = %acc) -> (vector<2x16xf32>) {
    %rows = scf.for %row = %c0 to %c4 step %c1 iter_args(%r0 = %b) -> (vector<2x16xf32>) {
      %r = scf.for %k = %c0 to %c512 step %c1 iter_args(%a = %r0) -> (vector<2x16xf32>) {
        %v = vector.transfer_read %w[%block, %k, %c0], %pad {in_bounds = [true, true], permutation_map = affine_map<(d0, d1, d2) -> (d0, d2)>} : memref<32x512x16xf32>, vector<2x16xf32>
        %s = arith.addf %a, %v : vector<2x16xf32>
        scf.yield %s : vector<2x16xf32>
      } {sep.prefetch}
      scf.yield %r : vector<2x16xf32>
    }
    scf.yield %rows : vector<2x16xf32>
  }
  return %out : vector<2x16xf32>
}

// A 1x1 conv's loop over the K rows of its (K, N) weights, reading a 32-column stripe of
// each row directly: the stripe of the row 8 ahead is prefetched, a line at a time.
// CHECK-LABEL: func.func @pointwise_rows(
// CHECK:         scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}}
// CHECK:           %[[AHEAD:.*]] = arith.addi %[[K]], %{{.*}} : index
// CHECK:           memref.prefetch %{{.*}}[%[[AHEAD]], %{{.*}}], read, locality<2>, data : memref<1024x1000xf32>
// CHECK:           memref.prefetch %{{.*}}[%[[AHEAD]], %{{.*}}], read, locality<2>, data : memref<1024x1000xf32>
// CHECK-NEXT:      vector.transfer_read
func.func @pointwise_rows(%col: index, %acc: vector<1x32xf32>) -> vector<1x32xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1024 = arith.constant 1024 : index
  %pad = arith.constant 0.0 : f32
  %w = memref.get_global @dense : memref<1024x1000xf32>
  %r = scf.for %k = %c0 to %c1024 step %c1 iter_args(%a = %acc) -> (vector<1x32xf32>) {
    %v = vector.transfer_read %w[%k, %col], %pad {in_bounds = [true, true]} : memref<1024x1000xf32>, vector<1x32xf32>
    %s = arith.addf %a, %v : vector<1x32xf32>
    scf.yield %s : vector<1x32xf32>
  } {sep.prefetch}
  return %r : vector<1x32xf32>
}
