// lower-memref-copies: no copy may reach `memrefCopy` (a runtime library the generated
// code must not need). Contiguous copies stay memref.copy (a memcpy); a copy into the middle
// of a padded buffer copies one contiguous image row per step; a tile copy of dynamic size
// moves rows of channels with vector loads and stores; anything else becomes loops.
// RUN: %sepc opt %s --passes=lower-memref-copies | FileCheck %s

// CHECK-LABEL: func.func @contiguous(
// CHECK-NEXT:    memref.copy %arg0, %arg1 : memref<2x8x16xf32> to memref<2x8x16xf32>
func.func @contiguous(%a: memref<2x8x16xf32>, %b: memref<2x8x16xf32>) {
  memref.copy %a, %b : memref<2x8x16xf32> to memref<2x8x16xf32>
  return
}

// Rows of W x C = 4 x 8 floats, contiguous on both sides: one copy per row (H = 4).
// CHECK-LABEL: func.func @into_padded(
// CHECK:         scf.for %[[H:.*]] = %c0 to %c4 step %c1
// CHECK-NEXT:      %[[FROM:.*]] = memref.subview %arg0[0, %[[H]], 0, 0] [1, 1, 4, 8] [1, 1, 1, 1]
// CHECK-NEXT:      %[[TO:.*]] = memref.subview %arg1[0, %[[H]], 0, 0] [1, 1, 4, 8] [1, 1, 1, 1]
// CHECK-NEXT:      memref.copy %[[FROM]], %[[TO]]
// CHECK-NOT:     linalg.copy
func.func @into_padded(%x: memref<1x4x4x8xf32>, %p: memref<1x4x4x8xf32, strided<[288, 48, 8, 1], offset: 56>>) {
  memref.copy %x, %p : memref<1x4x4x8xf32> to memref<1x4x4x8xf32, strided<[288, 48, 8, 1], offset: 56>>
  return
}

// Dynamic width: loops over rows and pixels, 32 channels as two 16-lane loads and stores.
// CHECK-LABEL: func.func @tile(
// CHECK:         scf.for %[[H:.*]] = %c0 to %c3 step %c1
// CHECK:           %[[W:.*]] = memref.dim %arg0, %c2
// CHECK:           scf.for %[[X:.*]] = %c0 to %[[W]] step %c1
// CHECK:             %[[V0:.*]] = vector.load %arg0[%c0, %[[H]], %[[X]], %c0{{.*}}] : memref<1x3x?x32xf32, strided<[?, ?, 32, 1], offset: ?>>, vector<16xf32>
// CHECK-NEXT:        vector.store %[[V0]], %arg1[%c0, %[[H]], %[[X]], %c0{{.*}}]
// CHECK:             %[[V1:.*]] = vector.load %arg0[%c0, %[[H]], %[[X]], %c16] {{.*}} vector<16xf32>
// CHECK-NEXT:        vector.store %[[V1]], %arg1[%c0, %[[H]], %[[X]], %c16]
// CHECK-NOT:     memref.copy
func.func @tile(%a: memref<1x3x?x32xf32, strided<[?, ?, 32, 1], offset: ?>>, %b: memref<1x3x?x32xf32, strided<[?, ?, 32, 1], offset: ?>>) {
  memref.copy %a, %b : memref<1x3x?x32xf32, strided<[?, ?, 32, 1], offset: ?>> to memref<1x3x?x32xf32, strided<[?, ?, 32, 1], offset: ?>>
  return
}

// A short, strided innermost dim: plain loops.
// CHECK-LABEL: func.func @strided(
// CHECK:         linalg.copy
// CHECK-NOT:     memref.copy
func.func @strided(%a: memref<4x2xf32, strided<[1, 4]>>, %b: memref<4x2xf32>) {
  memref.copy %a, %b : memref<4x2xf32, strided<[1, 4]>> to memref<4x2xf32>
  return
}
